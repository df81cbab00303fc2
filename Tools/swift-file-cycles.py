#!/usr/bin/env python3
# Usage: python3 Tools/swift-file-cycles.py Sources/PipelineEngine   (a heuristic: names are matched as words)
# File-level dependency graph of a Swift module: file A depends on file B when A names a type,
# function or extension member declared at top level (or in an extension) in B. Prints cycles (SCCs).
import re, sys, os, itertools
d = sys.argv[1]
files = sorted(f for f in os.listdir(d) if f.endswith('.swift'))
src = {f: open(os.path.join(d, f)).read() for f in files}
decl = {}
for f, s in src.items():
    for m in re.finditer(r'^(?:public |final |private |fileprivate |internal |@\w+ )*(?:final )?(?:class|struct|enum|protocol|func|typealias|let|var)\s+([A-Za-z_]\w*)', s, re.M):
        decl.setdefault(m.group(1), f)
    # members of extensions count as the file's own (e.g. ArtifactStore.runs() in RunRecord.swift)
    for m in re.finditer(r'^extension \w+[^{]*\{(.*?)^\}', s, re.M | re.S):
        for n in re.finditer(r'^    (?:public |@discardableResult\s+)*(?:static )?func\s+([A-Za-z_]\w*)', m.group(1), re.M):
            decl.setdefault(n.group(1), f)
common = {'init', 'run', 'execute', 'write', 'read', 'json', 'description', 'name', 'key', 'stage'}
edges = {f: set() for f in files}
for f, s in src.items():
    code = re.sub(r'//.*', '', s)
    code = re.sub(r'""".*?"""', '""', code, flags=re.S)
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)
    for name, g in decl.items():
        if g == f or name in common: continue
        if re.search(r'(?<![\w])' + re.escape(name) + r'(?![\w])', code):
            edges[f].add(g)
# Tarjan
index = {}; low = {}; stack = []; on = set(); sccs = []; i = [0]
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for v in files:
    if v not in index: strong(v)
for f in files: print(f, '->', ', '.join(sorted(edges[f])))
print('cycles:', sccs if sccs else 'none')
