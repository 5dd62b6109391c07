from observability import requestid


def test_a_sane_incoming_id_is_kept():
    for value in [
        "abc",
        "0af7651916cd43dd8448eb211c80319c",
        "00-4bf92f3577b34da6-00f067aa0ba902b7-01",
        "a.b:c/d+e=f",
    ]:
        assert requestid.choose(value) == value


def test_a_missing_or_odd_id_is_replaced_by_a_fresh_one():
    for value in [None, "", "has space", 'quote"', "x" * 129, "line\nbreak", "-leading-dash", "ünïcode"]:
        chosen = requestid.choose(value)
        assert chosen != value
        assert len(chosen) == 32 and int(chosen, 16) >= 0


def test_fresh_ids_differ():
    assert len({requestid.new() for _ in range(100)}) == 100


def test_bind_and_unbind():
    assert requestid.current() is None
    token = requestid.bind("r1")
    assert requestid.current() == "r1"
    requestid.unbind(token)
    assert requestid.current() is None
