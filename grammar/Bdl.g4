// The .bdl grammar. Pure syntax: no actions, no semantic predicates. The
// parse tree is turned into the AST by compiler/parse/ASTBuilder.cpp, and
// everything that needs names or shapes happens in compiler/sema/.
grammar Bdl;

// A model, or a library of definitions for `import` (stdlib/std/*.bdl).
file      : (modelDecl | libraryDecl) importDecl* decl* EOF ;
modelDecl : 'model' name=ID ;
libraryDecl : 'library' name=qualifiedName ;
importDecl  : 'import' name=qualifiedName ;
qualifiedName : ID ('.' ID)* ;

decl
  : paramDecl
  | constDecl
  | tensorDecl
  | layerDecl
  | lossDecl
  | learnDecl
  | trainDecl
  | defDecl
  | populationDecl
  | phaseDecl
  | evaluateDecl
  | strayAssignment
  ;

// `out.I = ...` outside a phase: parsed so that sema can say where it belongs.
strayAssignment : population=ID '.' name=ID '=' value=expr ;

// `def kappa(s, tau_L, tau_s) = ...`: an expression with parameters, expanded
// where it is called.
defDecl : 'def' name=ID '(' (ID (',' ID)*)? ')' '=' value=expr ;

// A population of n units and what each computes in every time step, in
// order. Values are recomputed every step; states keep their value between
// steps and change only by their ODE or assignment.
populationDecl : 'population' name=ID '[' size=expr ']' '{' populationStmt* '}' ;
populationStmt
  : 'state' name=ID '=' value=expr                                    # StateStmt
  | deriv=ID '/' dt=ID '=' value=expr ('method' '=' solver=ID)?       # OdeStmt
  | kind=('compartment' | 'current' | 'rate' | 'spikes' | 'trace')?
    name=ID '=' value=expr                                            # ValueStmt
  ;

// `phase forward steps 50 + wald(2, 1) { ... }`: a stretch of simulated time.
phaseDecl : 'phase' name=phaseName 'steps' steps=expr '{' phaseStmt* '}' ;
// `target` names the teaching phase in the literature; it is also a keyword.
phaseName : ID | 'target' ;
phaseStmt
  : population=ID '.' name=ID '=' value=expr    # OverrideStmt
  | 'record' name=ID '=' value=expr             # RecordStmt
  ;

// How a test example is run and read out.
evaluateDecl : 'evaluate' '{' evaluateStmt* '}' ;
evaluateStmt
  : 'phase' name=phaseName ('steps' steps=expr)? # EvaluatePhase
  | 'reset' 'state'                             # EvaluateReset
  | 'predict' value=expr                        # EvaluatePredict
  ;

// `param lr = 0.05 tune log [1e-4, 0.05]`: a runtime scalar (--set, tuning);
// `tune choice [16, 32, 64]` lists the values to try.
paramDecl : 'param' name=ID '=' value=expr tuneSpec? ;
tuneSpec  : 'tune' kind=ID? ('[' values+=expr (',' values+=expr)* ']')? ;
// `const k = 0.5`: folded by the compiler.
constDecl : 'const' name=ID '=' value=expr ;

tensorDecl : kind=('input' | 'target' | 'weight' | 'fixed') tensorItem (',' tensorItem)* ;
tensorItem : name=ID '[' expr (',' expr)* ']' ('=' init=expr)? ;

layerDecl : 'layer' name=ID '=' value=expr ;
lossDecl  : 'loss' name=ID '=' value=expr ;

// `learn feedback sgd(lr_fb) { ... }`, `learn forward sgd(lr) after warmup { ... }`:
// a model may have several learning rules, each with a name and its own
// optimiser; `after warmup` skips a rule in the train block's warm-up epochs.
learnDecl : 'learn' (name=ID)? optimizer=ID ('(' argList? ')')? ('after' schedule=ID)?
            '{' learnStmt* '}' ;
learnStmt
  // `pop.x = ...` and `pop.x -= ...` are parsed so that sema can say why a
  // population's state is not learned.
  // `monitor angle1 = angle(update(W1), grad(L, W1))`: a scalar logged
  // every epoch (runtime: metrics.csv, log.jsonl; --monitor-every K).
  : 'monitor' name=ID '=' value=expr ';'?                              # MonitorStmt
  | (population=ID '.')? name=ID '=' value=expr ';'?                  # LetStmt
  | (population=ID '.')? name=ID op=('-=' | '+=') value=expr ';'?     # UpdateStmt
  ;

trainDecl : 'train' dataset=ID '{' setting* '}' ;
setting   : name=(ID | 'predict') '=' (value=expr | objective=lossObjective) ';'? ;
// `objective = minimize(loss)`: `loss` is a keyword, not an expression, so
// this one call is spelt out (`maximize(accuracy)` is an ordinary call).
lossObjective : direction=ID '(' metric='loss' ')' ;

// Alternatives listed first bind tightest.
expr
  : '(' expr ')'                               # ParenExpr
  | callee=ID '(' argList? ')'                 # CallExpr
  | expr '\''                                  # TransposeExpr
  | <assoc = right> expr '^' expr              # PowExpr
  | '-' expr                                   # NegExpr
  | expr op=('*' | '/' | '@') expr             # MulExpr
  | expr op=('+' | '-') expr                   # AddExpr
  | expr op=('<' | '<=' | '>' | '>=' | '==' | '!=') expr   # CompareExpr
  | NUMBER                                     # NumberExpr
  | ('true' | 'false')                         # BoolExpr
  | population=ID '.' name=ID                  # MemberExpr
  | ID                                         # NameExpr
  ;

argList : arg (',' arg)* ;
// `last K` is a window: mean(hid.A, last 20).
arg     : (key=ID '=')? value=expr | 'last' window=expr ;

NUMBER : DIGITS ('.' DIGITS?)? EXPONENT? | '.' DIGITS EXPONENT? ;
ID     : [a-zA-Z_] [a-zA-Z_0-9]* ;
fragment DIGITS   : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;

LINE_COMMENT  : '//' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
WS            : [ \t\r\n]+ -> skip ;
