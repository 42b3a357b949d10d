"""Store cost per request: N distinct queue-message deletion requests through the real handler
against the in-process emulator, on Redis or the in-memory store.
Usage: PYTHONPATH=functions/ds_record_deleter:. python bench/store_cost.py redis|memory N [watch] [checks]"""
import collections, gc, io, json, os, re, sys, tracemalloc, uuid  # noqa: E401

mode, N = sys.argv[1], int(sys.argv[2])
watch, checks = "watch" in sys.argv[3:], "checks" in sys.argv[3:]
if mode == "memory":
    tracemalloc.start()

from local.emulator import Emulator
from local.emulator.seed import load_seed
from local.queue_trigger import cloud_events
from local.runtime import FcCredentials, LocalCloud
from tests.redis_server import RedisServer
import index
from deleter.log import logger
from wiring import FunctionInstance

logger.registered_handler.setStream(io.StringIO())  # keep the JSON logs off (and out of memory: swapped below)
seed = load_seed()
names = [f"bench-{i:05d}.example" for i in range(N)]
seed["domains"] += [{"DomainName": n, "DSRecords": [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2,
                                                       "Digest": "AB" * 32}]} for n in names]
emulator = Emulator(seed=seed, task_delays=(0, 0)).start()
redis = RedisServer().start() if mode == "redis" else None
sts = emulator.sts_credentials
cloud = LocalCloud(emulator.account_id, emulator.region,
                   FcCredentials(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"]))
for name in [k for k in os.environ if k in ("REDIS_URL", "WATCH_QUEUE", "PRECHECK", "DRY_RUN")]:
    del os.environ[name]
os.environ.update(NOTIFY_TOPIC="ds-record-deleter-notifications", DOMAIN_API_ENDPOINT=emulator.url,
                  MNS_ENDPOINT=emulator.url, SAFETY_CHECK="off")
if redis: os.environ["REDIS_URL"] = redis.url
if watch: os.environ["WATCH_QUEUE"] = "ds-record-deleter-watch"
instance = FunctionInstance.from_environ(os.environ)

def invoke(event):
    logger.registered_handler.setStream(io.StringIO())
    return index.handle(json.dumps(event).encode(), cloud.context(), lambda: instance)

def info():
    return {k: int(v) for k, v in re.findall(r"^(used_memory\w*|mem_clients_normal):(\d+)\r?$", redis.cli("INFO", "memory"), re.M)}

def used():
    return info()["used_memory"]

gc.collect()
info_before = info() if redis else None
before = used() if redis else None
for i, name in enumerate(names):  # one queue message per invocation, a fresh 32-hex MNS message id each
    r = invoke(cloud_events([(uuid.uuid4().hex.upper(), json.dumps({"DomainName": name, "KeyTag": 7}))],
                            "ds-record-deleter-requests", emulator.account_id, emulator.region))
    assert "TaskNo" in json.dumps(r), r
if checks:  # each first check, delivered straight from the watch queue (its delay not waited out)
    queue = next(q for q in emulator.snapshot()["queues"] if q["QueueName"] == "ds-record-deleter-watch")
    for m in queue["Messages"]:
        invoke(cloud_events([(m["MessageId"], m["MessageBody"])], "ds-record-deleter-watch",
                            emulator.account_id, emulator.region))
print(f"mode={mode} N={N} watch={watch} checks={checks} tasks={len(emulator.snapshot()['tasks'])}")

def kind(key):  # a key with its variable parts cut off
    return re.sub(r"(record:src:[a-z_]+:|record:watch:|task:|marker:task-of:|marker:task-note:|marker:ended:|"
                  r"marker:[a-z-]+:|lock:|record:)(.*)", lambda m: m.group(1) + ("…|end" if m.group(2).endswith("|end")
                  else "…#n" if re.search(r"#\d+$", m.group(2)) else "…"), key.split(":", 1)[1])

if redis:
    gc.collect()
    after = used()
    print("INFO memory deltas:", {k: v - info_before.get(k, 0) for k, v in info().items() if k in (
        "used_memory", "used_memory_dataset", "used_memory_overhead", "used_memory_scripts", "used_memory_vm_eval",
        "used_memory_lua", "mem_clients_normal")})
    keys = redis.cli("--scan").split()
    groups = collections.defaultdict(list)
    for k in keys: groups[kind(k)].append(k)
    print(f"used_memory delta {after - before} B = {(after - before) / N:.0f} B/request; keys {len(keys)}")
    total = 0
    for g, ks in sorted(groups.items()):
        sizes = [int(redis.cli("MEMORY", "USAGE", k, "SAMPLES", "0")) for k in ks]
        ttl = int(redis.cli("PTTL", ks[0])) / 86400000
        total += sum(sizes)
        print(f"  {g:32s} n={len(ks):5d} avg={sum(sizes) / len(ks):6.0f} B  ttl={ttl:6.2f} d  e.g. {ks[0]}")
        if len(ks) and redis.cli("TYPE", ks[0]) == "hash":
            print("      ", redis.cli("OBJECT", "ENCODING", ks[0]), json.dumps(dict(zip(*[iter(redis.cli("HGETALL", ks[0]).split("\n"))] * 2))))
    print(f"sum MEMORY USAGE {total} B = {total / N:.0f} B/request")
    redis.__exit__()
else:
    store = instance.store
    ttl = lambda e: (e[1] - __import__("time").time() * 1000) / 86400000
    groups = collections.defaultdict(list)
    for k, e in list(store._records.items()): groups["record:" + k].append(e)
    for k, e in list(store._values.items()): groups[k].append(e)
    kinds = collections.defaultdict(list)
    for k, es in groups.items(): kinds[kind("x:" + k)] += es
    for g, es in sorted(kinds.items()):
        print(f"  {g:32s} n={len(es):5d} ttl={ttl(es[0]):6.2f} d")
    gc.collect(); full = tracemalloc.get_traced_memory()[0]
    records = dict(store._records); store._records.clear(); del groups, kinds, es
    gc.collect(); no_records = tracemalloc.get_traced_memory()[0]
    records.clear(); del records
    gc.collect(); freed_records = tracemalloc.get_traced_memory()[0]
    store._values.clear(); gc.collect(); empty = tracemalloc.get_traced_memory()[0]
    print(f"records freed {full - freed_records} B = {(full - freed_records) / N:.0f} B/request; "
          f"values (claims, notes, markers) freed {freed_records - empty} B = {(freed_records - empty) / N:.0f} B/request; "
          f"store total {full - empty} B = {(full - empty) / N:.0f} B/request")
emulator.stop()
