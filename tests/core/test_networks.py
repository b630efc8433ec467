"""Who sent a request: the peer unless proxies of ours are trusted, then the entry they appended to
X-Forwarded-For; and looking addresses up in sets of networks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.networks import NetworkSet, networks_file, read_cidrs, sender_address

# A client wrote 6.6.6.6 itself; our first proxy saw 2.2.2.2, our second saw 3.3.3.3 (the peer: 10.0.0.5).
META = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 2.2.2.2,3.3.3.3"}


@pytest.mark.parametrize(
    ("hops", "sender"), [(0, "10.0.0.5"), (1, "3.3.3.3"), (2, "2.2.2.2"), (3, "6.6.6.6"), (4, "10.0.0.5")]
)
def test_the_sender_is_the_peer_or_what_the_trusted_proxies_saw(hops: int, sender: str) -> None:
    assert sender_address(META, hops=hops) == sender


def test_without_trusted_proxies_a_forged_header_is_ignored_and_a_non_address_is_not_recorded() -> None:
    assert sender_address({"REMOTE_ADDR": "1.2.3.4", "HTTP_X_FORWARDED_FOR": "9.9.9.9"}, hops=0) == "1.2.3.4"
    assert sender_address({"REMOTE_ADDR": "1.2.3.4", "HTTP_X_FORWARDED_FOR": "not-an-ip"}, hops=1) is None
    assert sender_address({}, hops=0) is None
    assert sender_address({"REMOTE_ADDR": "2001:DB8::0001"}, hops=0) == "2001:db8::1"
    assert sender_address({"REMOTE_ADDR": "::ffff:81.2.69.160"}, hops=0) == "81.2.69.160"  # dual-stack


def test_an_address_is_in_a_network_set_exactly_on_its_side_of_each_boundary() -> None:
    networks = NetworkSet(["185.220.101.0/24", "9.9.9.9", "2001:db8:1::/48"])
    inside = ["185.220.101.0", "185.220.101.255", "9.9.9.9", "2001:db8:1:ffff::1"]
    outside = ["185.220.100.255", "185.220.102.0", "9.9.9.8", "9.9.9.10", "2001:db8:2::"]
    assert [address in networks for address in inside] == [True] * 4
    assert [address in networks for address in outside] == [False] * 5
    assert "::ffff:9.9.9.9" not in networks  # another family: never the same network
    assert not NetworkSet([])
    assert "1.2.3.4" not in NetworkSet([])


def test_a_networks_file_is_read_with_comments_and_again_when_it_changes(tmp_path: Path) -> None:
    listing = tmp_path / "tor-exits.txt"
    listing.write_text("# Tor exit nodes\n185.220.101.1\n\n  10.1.0.0/16  # a comment\n")
    assert read_cidrs(listing.read_text()) == ["185.220.101.1", "10.1.0.0/16"]
    assert "185.220.101.1" in networks_file(str(listing))
    listing.write_text("185.220.101.2\n")
    os.utime(listing, ns=(1, 1))  # a new modification time, however fast the test
    assert "185.220.101.1" not in networks_file(str(listing))
    assert "185.220.101.2" in networks_file(str(listing))
    assert not networks_file("")
