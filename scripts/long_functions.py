#!/usr/bin/python3
"""Functions longer than a limit (default 150 lines) in the C sources of the given folders.

    scripts/long_functions.py [--limit N] [folder ...]     (default folders: src io pipeline)

A function is a line that starts with `{` in column 0 (the house style puts a definition's brace
there, or at the end of its signature line) to the next `}` in column 0; its length counts every
line from the signature's first line to the closing brace. Prints `lines path:line name`, longest
first; exits 1 if any is over the limit (so a check can run it)."""
import os
import re
import sys

def functions(path):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        opens = ln.startswith("{") or (re.match(r"^[A-Za-z_].*\)\s*\{\s*$", ln) and not ln.startswith(("typedef", "struct", "enum", "union", "static const", "const")))
        if opens and not re.match(r"^(typedef|struct|enum|union)\b.*\{", ln):
            # the signature starts at the first line after a blank/comment/closing line
            s = i if not ln.startswith("{") else i - 1
            while s > 0 and lines[s - 1].strip() and not lines[s - 1].startswith(("}", "/*", " *", "#")) \
                    and not lines[s - 1].rstrip().endswith((";", "*/")):
                s -= 1
            j = i + 1
            while j < len(lines) and not lines[j].startswith("}"):
                j += 1
            m = re.search(r"(\w+)\s*\(", " ".join(lines[s:i + 1]))
            out.append((j - s + 1, s + 1, m.group(1) if m else "?"))
            i = j
        i += 1
    return out

def main():
    args = sys.argv[1:]
    limit = 150
    if args[:1] == ["--limit"]:
        limit = int(args[1])
        args = args[2:]
    rows = []
    for top in args or ["src", "io", "pipeline"]:
        for d, _, fs in os.walk(top):
            for f in fs:
                if f.endswith(".c"):
                    p = os.path.join(d, f)
                    rows += [(n, p, line, name) for n, line, name in functions(p)]
    rows.sort(reverse=True)
    over = [r for r in rows if r[0] > limit]
    for n, p, line, name in over:
        print(f"{n:5d} {p}:{line} {name}")
    print(f"{len(over)} function(s) over {limit} lines ({len(rows)} functions)")
    return 1 if over else 0

if __name__ == "__main__":
    sys.exit(main())
