"""Each live candidate server of a hub gets a loopback port no other live server holds."""

from __future__ import annotations

from mlinterview.extension import hub_spawner
from mlinterview.extension.hub_spawner import ServerPorts


def test_a_port_handed_out_twice_by_the_system_goes_to_one_server_only(monkeypatch):
    # what happened under load: binding port 0 twice in a row gave two starting servers one port
    picks = iter([41000, 41000, 41000, 41001, 41000, 41002])
    monkeypatch.setattr(hub_spawner, "random_port", lambda: next(picks))
    monkeypatch.setattr(ServerPorts, "_held", {})
    ports = [ServerPorts.take(f"cand-{n}") for n in range(3)]
    assert ports == [41000, 41001, 41002]
    # a stopped server's port may be handed out again; a restarting server gives up its old one
    ServerPorts.release("cand-0")
    monkeypatch.setattr(hub_spawner, "random_port", lambda: 41000)
    assert ServerPorts.take("cand-3") == 41000
    monkeypatch.setattr(hub_spawner, "random_port", iter([41001, 41003]).__next__)
    assert ServerPorts.take("cand-1") == 41001
    assert sorted(ServerPorts._held.values()) == [41000, 41001, 41002]
