"""cloud.redis.RedisClient against a real redis-server: RESP2 replies, scripts, AUTH, SELECT,
reconnects, threads, and a password that never shows. Each test has a private server; redis-cli
(server.cli) is the independent view of what the client did."""
from __future__ import annotations

import hashlib
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cloud.redis import RedisClient, RedisError
from tests.redis_server import redis_server_factory  # noqa: F401  (fixture)

PASSWORD = "S3cret p@ss:w/rd%ü"  # URL-reserved characters: the URL carries it percent-encoded


@pytest.fixture
def server(redis_server_factory):
    return redis_server_factory()


@pytest.fixture
def client(server) -> RedisClient:
    return RedisClient(server.url)


def command_calls(server, command: str) -> int:
    stats = re.search(rf"^cmdstat_{command}:calls=(\d+)", server.cli("INFO", "commandstats"), re.M)
    return int(stats.group(1)) if stats else 0


# --- replies ---------------------------------------------------------------------------------

def test_ping_set_get(server, client):
    assert client.execute("PING") == b"PONG"
    assert client.execute("SET", "greeting", "hello") == b"OK"
    assert client.execute("GET", "greeting") == b"hello"
    assert server.cli("GET", "greeting") == "hello"


def test_values_and_keys_are_binary_safe(server, client):
    value = bytes(range(256)) + b"\r\n$3\r\n*1\r\n"  # every byte, and what looks like RESP framing
    key = b"k\r\n\x00\xff"
    assert client.execute("SET", key, value) == b"OK"
    assert client.execute("GET", key) == value
    assert client.execute("SET", "plain", value) == b"OK"
    assert server.cli("STRLEN", "plain") == str(len(value))
    assert client.execute("SET", "empty", b"") == b"OK" and client.execute("GET", "empty") == b""


def test_text_is_sent_as_utf8_and_numbers_as_decimals(client):
    assert client.execute("SET", "ключ", "значение ✓") == b"OK"
    assert client.execute("GET", "ключ") == "значение ✓".encode()
    client.execute("SET", "n", 42)
    assert client.execute("INCRBY", "n", -50) == -8


def test_nil_replies_are_none(client):
    assert client.execute("GET", "missing") is None                # null bulk string
    assert client.execute("HGET", "missing", "field") is None
    assert client.execute("BLPOP", "missing", "0.01") is None      # null array
    assert client.hgetall("missing") == {}


def test_integer_replies(client):
    assert client.execute("INCR", "counter") == 1
    assert client.execute("INCR", "counter") == 2
    assert client.execute("DECRBY", "counter", 5) == -3
    assert client.execute("INCRBY", "big", 2**62) == 2**62
    assert client.execute("EXISTS", "counter", "big", "missing") == 2


def test_array_replies(client):
    assert client.execute("RPUSH", "list", "a", "", "c") == 3
    assert client.execute("LRANGE", "list", 0, -1) == [b"a", b"", b"c"]
    assert client.execute("LRANGE", "missing", 0, -1) == []
    client.execute("SET", "one", "1")
    assert client.execute("MGET", "one", "missing") == [b"1", None]
    assert client.execute("EVAL", "return {1, {2, 'x', {}}, 'y'}", 0) == [1, [2, b"x", []], b"y"]


def test_hgetall_is_a_dict_of_text(client):
    assert client.execute("HSET", "h", "status", "IN_PROGRESS", "message", "ünïcode", "empty", "") == 3
    assert client.hgetall("h") == {"status": "IN_PROGRESS", "message": "ünïcode", "empty": ""}


def test_an_error_reply_raises_with_the_servers_message_and_the_connection_goes_on(client):
    connection = client.execute("CLIENT", "ID")
    client.execute("SET", "text", "abc")
    with pytest.raises(RedisError) as caught:
        client.execute("INCR", "text")
    assert str(caught.value) == "ERR value is not an integer or out of range"
    with pytest.raises(RedisError, match="^WRONGTYPE"):
        client.execute("HGET", "text", "field")
    with pytest.raises(RedisError, match="^ERR unknown command 'NOSUCHCOMMAND'"):
        client.execute("NOSUCHCOMMAND", "x")
    assert client.execute("GET", "text") == b"abc"
    assert client.execute("CLIENT", "ID") == connection


def test_an_error_inside_an_array_leaves_the_connection_in_step(client):
    with pytest.raises(RedisError, match="in the middle"):
        client.execute("EVAL", "return {1, redis.error_reply('in the middle'), 3}", 0)
    assert client.execute("PING") == b"PONG"


# --- scripts ---------------------------------------------------------------------------------

def test_eval_script_sends_the_script_once_then_its_sha(server, client):
    script = "return {KEYS[1], ARGV[1], ARGV[2]}"
    assert client.eval_script(script, ["k"], ["a", 7]) == [b"k", b"a", b"7"]  # NOSCRIPT, then EVAL
    assert client.eval_script(script, ["k"], ["b", 8]) == [b"k", b"b", b"8"]  # EVALSHA alone
    assert command_calls(server, "eval") == 1
    assert client.execute("SCRIPT", "EXISTS", hashlib.sha1(script.encode()).hexdigest()) == [1]

    assert server.cli("SCRIPT", "FLUSH") == "OK"  # a failover or restart forgets scripts
    assert client.eval_script(script, ["k"], ["c", 9]) == [b"k", b"c", b"9"]
    assert command_calls(server, "eval") == 2


def test_a_script_error_other_than_noscript_is_raised_as_is(server, client):
    client.execute("SET", "text", "abc")
    with pytest.raises(RedisError, match="boom"):
        client.eval_script("return redis.error_reply('boom')", [], [])
    with pytest.raises(RedisError, match="not an integer"):
        client.eval_script("return redis.call('INCR', KEYS[1])", ["text"], [])
    with pytest.raises(RedisError, match="(?i)error compiling script"):
        client.eval_script("this is not lua", [], [])
    assert command_calls(server, "eval") == 3  # once each: no EVAL retried after a real error


# --- AUTH and SELECT -------------------------------------------------------------------------

def test_auth_with_a_password_from_the_url(redis_server_factory):
    server = redis_server_factory(PASSWORD)
    assert "%40" in server.url  # percent-encoded; the client decodes it
    client = RedisClient(server.url)
    assert client.execute("SET", "k", "v") == b"OK"
    assert server.cli("GET", "k") == "v"


def test_auth_with_a_user_and_password_from_the_url(server):
    assert server.cli("ACL", "SETUSER", "alice", "on", ">alice-Pa55", "~*", "+@all") == "OK"
    client = RedisClient(f"redis://alice:alice-Pa55@127.0.0.1:{server.port}")
    assert client.execute("ACL", "WHOAMI") == b"alice"


def test_a_wrong_or_missing_password_is_a_redis_error_that_shows_no_password(redis_server_factory):
    server = redis_server_factory(PASSWORD)
    wrong = RedisClient(f"redis://:Wr0ng-Pa55@127.0.0.1:{server.port}")
    with pytest.raises(RedisError) as caught:
        wrong.execute("PING")
    assert "WRONGPASS" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), repr(wrong)):
        assert "Pa55" not in text and "S3cret" not in text
    with pytest.raises(RedisError, match="NOAUTH"):
        RedisClient(f"redis://127.0.0.1:{server.port}").execute("PING")


def test_the_url_path_selects_the_database(server):
    assert RedisClient(server.url + "/3").execute("SET", "k", "in-3") == b"OK"
    assert server.cli("-n", "3", "GET", "k") == "in-3"
    assert server.cli("GET", "k") == ""
    assert RedisClient(server.url + "/0").execute("GET", "k") is None
    assert RedisClient(server.url).execute("GET", "k") is None


def test_a_database_that_cannot_be_selected_is_never_written_to_db_0(server):
    client = RedisClient(server.url + "/99")
    for _ in range(2):
        with pytest.raises(RedisError, match="DB index is out of range"):
            client.execute("SET", "k", "v")
    assert server.cli("DBSIZE") == "0"


# --- connections -----------------------------------------------------------------------------

def test_reconnects_once_when_the_server_closed_the_connection(server, client):
    first = client.execute("CLIENT", "ID")
    assert int(server.cli("CLIENT", "KILL", "TYPE", "normal")) >= 1
    assert client.execute("PING") == b"PONG"
    assert client.execute("CLIENT", "ID") != first


def test_a_server_that_is_gone_is_a_redis_error(server, client):
    client.execute("PING")
    server.stop()
    with pytest.raises(RedisError, match=r"^Redis at 127\.0\.0\.1:\d+ unreachable: ") as caught:
        client.execute("PING")
    assert caught.value.__suppress_context__
    server.start()
    assert client.execute("PING") == b"PONG"


def test_a_server_that_never_answers_times_out_as_a_redis_error():
    with socket.socket() as silent:  # accepts connections (the kernel does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = RedisClient(f"redis://127.0.0.1:{silent.getsockname()[1]}", timeout=0.1)
        with pytest.raises(RedisError, match="unreachable"):
            client.execute("PING")


def test_each_thread_has_its_own_connection(client):
    threads, rounds = 8, 50
    barrier = threading.Barrier(threads)

    def work(index: int) -> int:
        barrier.wait(timeout=10)
        connection = client.execute("CLIENT", "ID")
        for n in range(rounds):  # interleaved with the others: each reply must be this thread's
            assert client.execute("SET", f"key-{index}", f"{index}-{n}") == b"OK"
            assert client.execute("GET", f"key-{index}") == f"{index}-{n}".encode()
            assert client.execute("INCR", f"count-{index}") == n + 1
        assert client.execute("CLIENT", "ID") == connection
        return connection

    with ThreadPoolExecutor(threads) as pool:  # a barrier for all: each on a thread of its own
        connections = list(pool.map(work, range(threads)))
    assert len(set(connections)) == threads


# --- URLs and what shows the password ---------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:6379", "127.0.0.1:6379", "redis://", "redis:///0", "redis://:S3cret@/0",
    "redis://host:port", "redis://host:6379/zero", "",
])
def test_a_bad_url_is_a_value_error(url):
    with pytest.raises(ValueError) as caught:
        RedisClient(url)
    assert "S3cret" not in str(caught.value)


def test_a_bad_url_error_never_quotes_the_password():
    with pytest.raises(ValueError) as caught:
        RedisClient("redis://alice:S3cret#Pa55@cache.example:6379")
    assert "S3cret" not in str(caught.value)


def test_repr_shows_no_credentials_and_construction_does_not_connect():
    client = RedisClient("redis://alice:S3cret@unreachable.invalid:6380/2")
    assert repr(client) == "RedisClient(redis://unreachable.invalid:6380/2)"
    assert repr(RedisClient("rediss://:S3cret@cache.example")) == "RedisClient(rediss://cache.example:6379/0)"

