"""Long lists stay paginated and cheap: a page evaluates about a page of items, never the whole list."""

from dataclasses import dataclass

from mcpserver import pagination
from mcpserver.registry import Registry, tool


@dataclass
class Item:
    key: str

    def describe(self) -> dict:
        return {"name": self.key}


def walk(source) -> list[str]:
    keys, params = [], {}
    while True:
        page = pagination.paginate(params, source, "tools")
        keys += [entry["name"] for entry in page["tools"]]
        if "nextCursor" not in page:
            return keys
        params = {"cursor": page["nextCursor"]}


def test_every_key_once_in_order_from_a_list_or_a_lazy_source(settings):
    settings.MCPSERVER = {**settings.MCPSERVER, "PAGE_SIZE": 7}
    items = [Item(f"tool_{i:04d}") for i in range(100)]
    expected = [item.key for item in items]
    assert walk(items) == expected
    seen = []

    def lazy(after):
        for item in items:
            if after is None or item.key > after:
                seen.append(item.key)
                yield item

    assert walk(lazy) == expected
    assert len(seen) <= 100 + 15  # each page reads its items and one more, not the whole list


def test_registry_keeps_its_sorted_view_up_to_date():
    def make(name):
        def handler(ctx):
            return name

        return tool(name)(handler).__mcp__

    registry = Registry([make("b"), make("d")])
    assert [t.key for t in registry.all("tool")] == ["b", "d"]
    registry.register(make("c"))
    assert [t.key for t in registry.all("tool")] == ["b", "c", "d"]
    assert [t.key for t in registry.all("tool", after="b")] == ["c", "d"]
    assert [t.key for t in registry.all("tool", after="bb")] == ["c", "d"]
    assert registry.all("tool", after="d") == []
