"""A small parser for Fluentd's configuration syntax: ``<name arg>`` sections, ``key value``
parameters, comments. Enough to read back what the project renders."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    name: str
    arg: str = ""
    params: dict[str, str] = field(default_factory=dict)
    children: list[Section] = field(default_factory=list)

    def find(self, name: str) -> list[Section]:
        return [c for c in self.children if c.name == name]

    def one(self, name: str) -> Section:
        found = self.find(name)
        assert len(found) == 1, f"{len(found)} <{name}> sections in <{self.name} {self.arg}>"
        return found[0]


def parse(text: str) -> Section:
    root = Section("ROOT")
    stack = [root]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            name = line[2:-1]
            if not line.endswith(">") or stack[-1].name != name:
                raise ValueError(f"line {number}: </{name}> closes <{stack[-1].name}>")
            stack.pop()
        elif line.startswith("<"):
            if not line.endswith(">"):
                raise ValueError(f"line {number}: unterminated section {line!r}")
            name, _, arg = line[1:-1].partition(" ")
            section = Section(name, arg.strip())
            stack[-1].children.append(section)
            stack.append(section)
        else:
            key, _, value = line.partition(" ")
            if key in stack[-1].params:
                raise ValueError(f"line {number}: {key} set twice in <{stack[-1].name}>")
            stack[-1].params[key] = value.strip()
    if len(stack) != 1:
        raise ValueError(f"<{stack[-1].name}> is never closed")
    return root


def parse_files(file_configs: dict[str, str]) -> Section:
    """The files the chart's ``@include config.d/*.conf`` reads, in its order."""
    names = sorted(name for name in file_configs if name.endswith(".conf"))
    return parse("\n".join(file_configs[name] for name in names))
