// The .bdl grammar. Pure syntax: no actions, no semantic predicates. The
// parse tree is turned into the AST by compiler/parse/ASTBuilder.cpp, and
// everything that needs names or shapes happens in compiler/sema/.
grammar Bdl;

file      : modelDecl decl* EOF ;
modelDecl : 'model' name=ID ;

decl
  : paramDecl
  | constDecl
  | tensorDecl
  | layerDecl
  | lossDecl
  | learnDecl
  | trainDecl
  ;

// `param lr = 0.05 tune log [1e-4, 0.05]`: a runtime scalar (--set, tuning).
paramDecl : 'param' name=ID '=' value=expr tuneSpec? ;
tuneSpec  : 'tune' kind=ID? ('[' lo=expr ',' hi=expr ']')? ;
// `const k = 0.5`: folded by the compiler.
constDecl : 'const' name=ID '=' value=expr ;

tensorDecl : kind=('input' | 'target' | 'weight' | 'fixed') tensorItem (',' tensorItem)* ;
tensorItem : name=ID '[' expr (',' expr)* ']' ('=' init=expr)? ;

layerDecl : 'layer' name=ID '=' value=expr ;
lossDecl  : 'loss' name=ID '=' value=expr ;

learnDecl : 'learn' optimizer=ID ('(' argList? ')')? '{' learnStmt* '}' ;
learnStmt
  : name=ID '=' value=expr ';'?                  # LetStmt
  | name=ID op=('-=' | '+=') value=expr ';'?     # UpdateStmt
  ;

trainDecl : 'train' dataset=ID '{' setting* '}' ;
setting   : name=ID '=' value=expr ';'? ;

// Alternatives listed first bind tightest.
expr
  : '(' expr ')'                               # ParenExpr
  | callee=ID '(' argList? ')'                 # CallExpr
  | expr '\''                                  # TransposeExpr
  | <assoc = right> expr '^' expr              # PowExpr
  | '-' expr                                   # NegExpr
  | expr op=('*' | '/' | '@') expr             # MulExpr
  | expr op=('+' | '-') expr                   # AddExpr
  | NUMBER                                     # NumberExpr
  | ('true' | 'false')                         # BoolExpr
  | ID                                         # NameExpr
  ;

argList : arg (',' arg)* ;
arg     : (key=ID '=')? value=expr ;

NUMBER : DIGITS ('.' DIGITS?)? EXPONENT? | '.' DIGITS EXPONENT? ;
ID     : [a-zA-Z_] [a-zA-Z_0-9]* ;
fragment DIGITS   : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;

LINE_COMMENT  : '//' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
WS            : [ \t\r\n]+ -> skip ;
