"""Fails when the fuzzer's dictionary misses a keyword of the grammar or a
builtin function, so the fuzzer keeps up with the language."""
import re
import sys

root = sys.argv[1]
words = set(re.findall(r'^"(.*)"$', open(f"{root}/test/fuzz/bdl.dict").read(), re.M))
grammar = open(f"{root}/grammar/Bdl.g4").read()
keywords = set(re.findall(r"'([a-z]+)'", grammar))
builtins = set(re.findall(r'\{"([a-z_0-9]+)", F::', open(f"{root}/compiler/sema/Builtins.cpp").read()))
if not keywords or not builtins:
    sys.exit("check_dictionary: found no keywords or no builtins: did the sources move?")
missing = sorted((keywords | builtins) - words)
if missing:
    sys.exit("test/fuzz/bdl.dict lacks: " + ", ".join(missing))
print(f"dictionary covers {len(keywords)} keywords and {len(builtins)} builtins")
