"""Folding a graph for drawing: one node per neuron or layer, and one node per role in a batch.

A batch of 100 examples through a model is the same small graph 100 times over, joined at the end
by the loss's mean. Drawn as it is, that is thousands of boxes; folded, it is the picture of one
example with every box standing for all of its copies (``x0 ×100``), which is the picture a learner
wants (Wongsuphasawat et al. 2018, TensorBoard's graph view: "detect repeated structure and draw it
once, marked as repeated"). Folding looks only at the graph's structure:

- The nodes of one neuron, or one layer (``groups``, read from ``nn``'s parameter names by
  :func:`microgradx.viz.neuron_groups`), are one node.
- An op's *role* is its name and the roles of its inputs, in argument order: the hinge term
  ``relu(1 - y s)`` of every example has the same role.
- A leaf's role is how it is used: by which roles of op, at which argument position, and its
  label. The first input of every example feeds the same neurons at the same position, so all
  of them fold into one ``x0 ×100``; the targets fold into one node beside them.
- A chain of ``+`` (Python's ``sum()`` over a list) is one ``+`` with all the terms as inputs,
  so a sum over the batch is one node too.
- Roles are refined a few rounds, leaves by their users and ops by their inputs, until no role
  splits any more (Weisfeiler-Lehman colour refinement), each round one pass over the graph.

- The components of one vector are one node, as TensorBoard groups a series of numbered nodes
  (``x[0]`` ... ``x[63]`` become ``x[0:64]``): leaves labelled ``name[i]`` (or ``name[i, j]``, or
  unlabelled inputs of a model, named ``x<j>`` by position) that feed the same collapsed boxes
  and nothing else, at least :data:`SERIES_MIN` of them with consecutive indices.

What does not fold: leaves with different labels (label the inputs of every example alike, or not
at all, and they fold; ``x_17`` and ``x_18`` stay apart, and so does everything computed from them);
a node whose inputs differ in role, such as the ``- logits[target]`` of cross-entropy in examples of
different classes (one node per class). What folds that you might not expect: unlabelled leaves
in the same role whatever their values (``x * 2`` and ``x * 3`` are one ``*`` node with inputs
2 … 3), and so unlabelled weights of a hand-written model (label them, or use ``nn``).

Constants (unlabelled leaves with a single value in their role, used only by drawn ops) are not
drawn as boxes: the op that uses them shows them (``* -1``, ``+ 1``), as TensorBoard shows
constants as small marks beside the op rather than as nodes.

>>> from microgradx import Value
>>> from microgradx import functional as F
>>> w = Value(0.5, label="w")
>>> xs = [Value(float(i)) for i in range(100)]
>>> loss = F.mean([(w * x - 1.0) ** 2 for x in xs])
>>> folding = fold(trace_nodes(loss), {})
>>> [(p.name or p.op, len(p.members)) for p in folding.parts]
[('w', 1), ('', 100), ('*', 100), ('+', 100), ('**2', 100), ('sum', 1), ('*', 1)]
>>> [p.marks for p in folding.parts if p.marks]
[((1, -1.0),), ((1, 0.01),)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from .engine import Value, _reverse_topological

__all__ = ["SERIES_MIN", "Folding", "Part", "fold", "natural_key", "trace_nodes"]

MAX_ROUNDS = 6  # refinement stops earlier when no role splits; nn graphs settle after 2 rounds
SERIES_MIN = 5  # TensorBoard's seriesNodeMinSize: fewer numbered components are clearer drawn apart


def trace_nodes(root: Value) -> list[Value]:
    """Every node behind ``root``, parents before children, ``root`` last (the order of ``viz.trace``),
    constants included (the engine keeps them unboxed until asked; a drawing shows them)."""
    return _reverse_topological(root, constants=True)[::-1]


def natural_key(text: str) -> tuple[object, ...]:
    """A sort key that orders the numbers inside a text by value: ``layers.2`` before ``layers.10``.

    >>> sorted(["n.10", "n.2", "n.1"], key=natural_key)
    ['n.1', 'n.2', 'n.10']
    """
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


class Part:
    """One drawn node of a folded graph: a group (neuron or layer), an op's results, or leaves.

    ``members`` are the indices (into the traced nodes) of the Values it stands for; ``name`` is
    the group's name, or the members' common label (``x0`` for the inputs of an ``nn`` model),
    or ``""``; ``op`` is the op's name for an op part; ``marks`` are the constants its op uses,
    as ``(argument position, value)`` (position -1 inside a chain of ``+``); ``series`` is the
    number of vector components a leaf part stands for (``x[0:64]``: 64), else 1. A part stands
    for ``len(members) // series`` copies of itself (the examples of a batch).
    """

    __slots__ = ("kind", "members", "name", "op", "marks", "series")

    def __init__(self, kind: str, name: str = "", op: str = "") -> None:
        self.kind = kind  # "group", "op" or "leaf"
        self.members: list[int] = []
        self.name = name
        self.op = op
        self.marks: tuple[tuple[int, float], ...] = ()
        self.series = 1

    @property
    def copies(self) -> int:
        """How many times the part repeats: once per example of a batch it folds."""
        return len(self.members) // self.series

    def __repr__(self) -> str:
        what = self.name or self.op or "leaf"
        return f"Part({self.kind} {what!r} ×{self.copies})"


class Folding(NamedTuple):
    """The folded graph: its ``parts``, the part of every traced node (``part_of``, -1 for a
    constant shown as a mark) and the edges between parts with the number of real edges each
    stands for (``edges[(tail, head)]``: the tail's Values feed the head's op, or the head's group).
    ``chain_head[i]`` is the node whose ``+`` absorbed node ``i`` (-1: none)."""

    parts: list[Part]
    part_of: list[int]
    edges: dict[tuple[int, int], int]
    chain_head: list[int]


def fold(nodes: list[Value], groups: Mapping[Value, str]) -> Folding:
    """Fold ``nodes`` (parents before children, as :func:`trace_nodes` lists them) by role.

    ``groups`` maps the Values of each neuron or layer to its name; each name becomes one part.
    Every step is a pass over the nodes and edges, so a graph of a million nodes folds in seconds.
    Parts come in a stable order: groups in natural order of their names, then the others in the
    order of their first node.
    """
    n = len(nodes)
    index = {v: i for i, v in enumerate(nodes)}
    at = index.__getitem__
    prev = [tuple(map(at, v._prev)) for v in nodes]
    ops = [v._op.name if v._prev else "" for v in nodes]  # type: ignore[union-attr]
    group = [groups.get(v, "") for v in nodes]
    heads = _chains(nodes, prev, ops, group)
    inputs = _inputs(prev, heads)  # what each node's op (or chain) takes, in order
    cls = _roles(nodes, inputs, ops, group, heads)

    # One part per role, in a stable order; then constants become marks of the ops that use them.
    part_of_class: dict[int, int] = {}
    parts: list[Part] = []
    part_of = [-1] * n
    for i in _drawing_order(n, group):
        if heads[i] >= 0:
            continue  # drawn as part of its chain's +
        c = cls[i]
        k = part_of_class.get(c)
        if k is None:
            kind = "group" if group[i] else "op" if prev[i] else "leaf"
            k = part_of_class[c] = len(parts)
            parts.append(Part(kind, group[i], ops[i]))
        parts[k].members.append(i)
        part_of[i] = k
    for i in range(n):
        if heads[i] >= 0:
            part_of[i] = part_of[heads[i]]
    users = _users(inputs, part_of, parts, heads)
    positions: dict[int, int] = {}  # leaf part -> the model input it is, when named by its position
    for k, part in enumerate(parts):
        if part.kind == "leaf":
            position = _name_leaf(k, parts, nodes, users[k], inputs, part_of)
            if position is not None:
                positions[k] = position
        elif part.kind == "op":  # an op's results named alike (the loss, say) keep their name
            labels = {nodes[i].label for i in part.members}
            part.name = labels.pop() if len(labels) == 1 else ""
    constants = {k for k, part in enumerate(parts) if _is_constant(part, nodes, users[k], parts)}
    for k in sorted(constants):
        for i in parts[k].members:
            part_of[i] = -1
    leader = _series(parts, users, positions)  # the components of one vector: one part, the first's
    for k, first in leader.items():
        parts[first].members.extend(parts[k].members)
    for part in parts:
        if part.series > 1:
            part.members.sort()
    for part in parts:
        if part.kind == "op":
            first = part.members[0]
            part.marks = tuple((-1 if part.op == "+" and len(inputs[first]) != 2 else pos, nodes[p].data)
                               for pos, p in enumerate(inputs[first]) if part_of[p] == -1)
    kept = [k for k in range(len(parts)) if k not in constants and k not in leader]
    renumber = {k: j for j, k in enumerate(kept)}
    part_of = [renumber[leader.get(k, k)] if k >= 0 else -1 for k in part_of]
    parts = [parts[k] for k in kept]
    return Folding(parts, part_of, _edges(inputs, part_of, parts, heads), heads)


def _chains(nodes: list[Value], prev: list[tuple[int, ...]], ops: list[str], group: list[str]) -> list[int]:
    """For each node, the ``+`` node its chain ends in, when it is an inner link of a chain (-1: not).

    ``sum(xs)`` in Python is ``((0 + x0) + x1) + ...``: each inner ``+`` is unlabelled, used once,
    and only by the next ``+``. Walking from the root down, a ``+`` that meets those conditions joins
    the chain of the ``+`` that uses it.
    """
    uses = [0] * len(nodes)
    for ps in prev:
        for p in ps:
            uses[p] += 1
    heads = [-1] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):
        if ops[i] != "+" or group[i]:
            continue
        head = heads[i] if heads[i] >= 0 else i
        for p in prev[i]:
            if ops[p] == "+" and not group[p] and uses[p] == 1 and not nodes[p].label:
                heads[p] = head
    return heads


def _inputs(prev: list[tuple[int, ...]], heads: list[int]) -> list[tuple[int, ...]]:
    """Each node's inputs; a chain's last ``+`` takes the terms of the whole chain, in order."""
    terms: dict[int, list[int]] = {h: [] for h in set(heads) if h >= 0}
    for i, ps in enumerate(prev):
        head = heads[i] if heads[i] >= 0 else i
        if head in terms:
            terms[head].extend(p for p in ps if heads[p] != head)
    return [tuple(terms[i]) if i in terms else ps for i, ps in enumerate(prev)]


def _roles(nodes: list[Value], inputs: list[tuple[int, ...]], ops: list[str], group: list[str],
           heads: list[int]) -> list[int]:
    """The role (an int) of every node, refined until stable (see the module docstring)."""
    n = len(nodes)
    leaves = [i for i in range(n) if not inputs[i] and not group[i]]
    users: dict[int, list[tuple[int, int]]] = {i: [] for i in leaves}  # leaf -> (user, position)
    for i, ps in enumerate(inputs):
        if heads[i] >= 0:
            continue
        summed = ops[i] in ("+", "sum") and len(ps) != 2  # a sum's terms: the position does not matter
        for pos, p in enumerate(ps):
            if p in users:
                users[p].append((i, -1 if summed else pos))
    table: dict[tuple[object, ...], int] = {}
    intern = table.setdefault
    leaf_role = {i: intern(("leaf", nodes[i].label), len(table)) for i in leaves}
    cls = [0] * n
    count = -1
    for _ in range(MAX_ROUNDS):
        for i in range(n):
            if group[i]:
                cls[i] = intern(("group", group[i]), len(table))
            elif heads[i] >= 0:
                cls[i] = -1
            elif i in leaf_role:
                cls[i] = leaf_role[i]
            elif ops[i] in ("+", "sum") and len(inputs[i]) != 2:  # n-ary sums: the set of the terms' roles
                cls[i] = intern((ops[i], frozenset(cls[p] for p in inputs[i])), len(table))
            else:
                cls[i] = intern((ops[i], *[cls[p] for p in inputs[i]]), len(table))
        roles = len(set(cls))
        if roles == count:
            break
        count = roles
        leaf_role = {i: intern(("leaf", leaf_role[i], frozenset((cls[u], pos) for u, pos in users[i])), len(table))
                     for i in leaves}
    return cls


def _drawing_order(n: int, group: list[str]) -> list[int]:
    """Nodes of groups first, groups in natural order of their names; then the rest in graph order."""
    names = sorted({g for g in group if g}, key=natural_key)
    rank = {name: k for k, name in enumerate(names)}
    grouped = sorted((i for i in range(n) if group[i]), key=lambda i: rank[group[i]])
    return grouped + [i for i in range(n) if not group[i]]


def _users(inputs: list[tuple[int, ...]], part_of: list[int], parts: list[Part],
           heads: list[int]) -> list[set[tuple[int, int]]]:
    """For each part, the (part, position) pairs that use its Values."""
    users: list[set[tuple[int, int]]] = [set() for _ in parts]
    for i in range(len(inputs)):
        if not inputs[i] or heads[i] >= 0:
            continue
        k = part_of[i]
        for pos, p in enumerate(inputs[i]):
            if part_of[p] != k:
                users[part_of[p]].add((k, pos))
    return users


def _name_leaf(k: int, parts: list[Part], nodes: list[Value], users: set[tuple[int, int]],
               inputs: list[tuple[int, ...]], part_of: list[int]) -> int | None:
    """Name a leaf part: its members' common label, or ``x<j>`` for input j of an nn model (then
    returns j)."""
    part = parts[k]
    labels = {nodes[i].label for i in part.members}
    if len(labels) == 1 and "" not in labels:
        part.name = labels.pop()
        return None
    if labels != {""}:
        return None
    # An input of a model: it is argument n + j of the dot (weights first, then inputs) of its neurons.
    positions = set()
    for user, pos in users:
        if parts[user].kind != "group":
            return None
        dot = next((i for i in parts[user].members if nodes[i]._prev and nodes[i]._op.name == "dot"  # type: ignore[union-attr]
                    and any(part_of[p] == k for p in inputs[i])), None)
        if dot is None:
            return None
        positions.add(pos - len(inputs[dot]) // 2)
    if len(positions) == 1 and min(positions) >= 0:
        part.name = f"x{positions.pop()}"
        return int(part.name[1:])
    return None


# name[3] or name[3, 7]: a component of a vector (or of a matrix), as one labels the inputs of a model
_COMPONENT = re.compile(r"(?P<name>.+?)\[(?P<index>\s*\d+\s*(?:,\s*\d+\s*)*)\]")


def _series(parts: list[Part], users: list[set[tuple[int, int]]], positions: Mapping[int, int]) -> dict[int, int]:
    """Group the leaf parts that are the components of one vector into one part per series.

    A series is at least :data:`SERIES_MIN` leaf parts with the same name before the index
    (``x[0]``, ``x[1]``, ... or a model's inputs ``x0``, ``x1``, ...), used only by the same
    collapsed boxes (groups), as many copies each, and with consecutive indices: a 1-D index in one
    run (``x[0:64]``), a 2-D one filling a grid (``x[0:8, 0:8]``) or a run along its last index
    (``x[3, 0:8]``). The first part of a series takes its name and ``series`` count; returns
    {every other part: that first part}.
    """
    candidates: dict[tuple[object, ...], dict[tuple[int, ...], int]] = {}
    names: dict[tuple[object, ...], str] = {}
    index: tuple[int, ...]
    for k, part in enumerate(parts):
        if part.kind != "leaf" or not users[k] or any(parts[u].kind != "group" for u, _ in users[k]):
            continue
        if k in positions:
            name, index = "x", (positions[k],)
        else:
            match = _COMPONENT.fullmatch(part.name)
            if not match:
                continue
            name, index = match["name"], tuple(int(i) for i in match["index"].split(","))
        key = (k in positions, name, len(index), frozenset(u for u, _ in users[k]), len(part.members))
        candidates.setdefault(key, {}).setdefault(index, k)
        names[key] = name
    leader: dict[int, int] = {}
    for group, found in candidates.items():
        for series, title in _runs(sorted(found), names[group]):
            if len(series) < SERIES_MIN:
                continue
            ks = sorted(found[index] for index in series)
            first = parts[ks[0]]
            first.name, first.series = title, len(ks)
            leader.update((k, ks[0]) for k in ks[1:])
    return leader


def _runs(indices: list[tuple[int, ...]], name: str) -> list[tuple[list[tuple[int, ...]], str]]:
    """The indices (sorted, each of the same length) cut into series with their titles: the whole grid
    when they fill one, else runs of consecutive last indices under one prefix.

    >>> [title for _, title in _runs([(i, j) for i in range(2) for j in range(3)], "x")]
    ['x[0:2, 0:3]']
    >>> [title for _, title in _runs([(0,), (1,), (2,), (5,), (6,)], "x")]
    ['x[0:3]', 'x[5:7]']
    """
    lows = [min(index[d] for index in indices) for d in range(len(indices[0]))]
    highs = [max(index[d] for index in indices) for d in range(len(indices[0]))]
    cells = 1
    for lo, hi in zip(lows, highs):
        cells *= hi - lo + 1
    if len(indices) == cells:
        return [(indices, f"{name}[{', '.join(f'{lo}:{hi + 1}' for lo, hi in zip(lows, highs))}]")]
    runs: list[list[tuple[int, ...]]] = []
    for index in indices:
        last = runs[-1][-1] if runs else None
        if last is not None and last[:-1] == index[:-1] and last[-1] + 1 == index[-1]:
            runs[-1].append(index)
        else:
            runs.append([index])
    return [(run, f"{name}[{''.join(f'{i}, ' for i in run[0][:-1])}{run[0][-1]}:{run[-1][-1] + 1}]") for run in runs]


def _is_constant(part: Part, nodes: list[Value], users: set[tuple[int, int]], parts: list[Part]) -> bool:
    """Unlabelled leaves with one value in their role, used only by drawn ops: shown as marks."""
    if part.kind != "leaf" or part.name or not users:
        return False
    if any(parts[k].kind != "op" for k, _ in users):
        return False
    first = nodes[part.members[0]].data
    return all(nodes[i].data == first for i in part.members)


def _edges(inputs: list[tuple[int, ...]], part_of: list[int], parts: list[Part],
           heads: list[int]) -> dict[tuple[int, int], int]:
    """(tail part, head part) -> how many real edges go from the tail's Values into the head."""
    edges: dict[tuple[int, int], int] = {}
    for i, ps in enumerate(inputs):
        if not ps or heads[i] >= 0:
            continue
        head = part_of[i]
        for p in ps:
            tail = part_of[p]
            if tail >= 0 and tail != head:
                edges[tail, head] = edges.get((tail, head), 0) + 1
    return edges
