#!/usr/bin/python3
"""The offline push bench's driver (bench/push_bench.sh runs it).

offline: N users, each with one APNs device that is not online (written to
Redis as a registered, disconnected device would leave it), get one message
each through REST batchsendmsg (500 recipients a call). The cluster's push
service runs with no workers, so the jobs wait in the queue; then a sending
parley-push replica starts, and the bench prints how many notifications per
second the APNs stand-in accepted from its start to the last one, duplicates
and missing, and the sender's CPU per notification.
"""
import os
import signal
import argparse
import json
import subprocess
import sys
import time
import urllib.request


def rest(args, endpoint, body):
    url = ("http://%s/v4/%s?sdkappid=%s&identifier=%s&usersig=%s&random=1&contenttype=json"
           % (args.http, endpoint, args.sdkappid, args.admin, args.usersig))
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    if answer.get("ErrorCode", 0) != 0:
        sys.exit("%s failed: %s" % (endpoint, answer))
    return answer


def control(args, path, body=None):
    url = "http://127.0.0.1:%d%s" % (args.control_port, path)
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as response:
        return json.loads(response.read())


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0


def offline(args):
    users = ["pb%s_%d" % (args.run, i) for i in range(args.users)]
    for i in range(0, len(users), 100):
        rest(args, "im_open_login_svc/multiaccount_import", {"Accounts": users[i:i + 100]})
    rest(args, "parley_push/set_credential", json.load(open(args.credential)))
    # Each user's device: registered by a session that is gone (PushOnline).
    now = int(time.time() * 1000)
    lines = []
    for user in users:
        device = json.dumps({"c": "APNs", "t": "tok-" + user, "b": 0, "p": "iPhone", "s": "gone",
                             "bg": 1, "at": now}, separators=(",", ":"))
        key = "parley:{%s}:devices:%s" % (args.sdkappid, user)
        lines.append("HSET %s APNs:tok-%s '%s'\n" % (key, user, device))
    subprocess.run(["redis-cli", "-h", args.redis_host, "-p", str(args.redis_port)],
                   input="".join(lines).encode(), check=True, stdout=subprocess.DEVNULL)
    redis = ["redis-cli", "-h", args.redis_host, "-p", str(args.redis_port)]
    queue = "parley:push:queue"
    subprocess.run(redis + ["DEL", queue, "parley:push:retry"], check=True, stdout=subprocess.DEVNULL)
    start = time.time()
    for i in range(0, len(users), 500):
        rest(args, "openim/batchsendmsg", {
            "From_Account": args.admin, "To_Account": users[i:i + 500], "MsgRandom": 1000 + i,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "bench " + args.run}}]})
    sent = time.time()
    while time.time() < sent + 60:  # every job queued (Deliver runs after each send's answer)
        queued = int(subprocess.run(redis + ["XLEN", queue], check=True, capture_output=True).stdout)
        if queued >= len(users):
            break
        time.sleep(0.1)
    queued_at = time.time()
    env = dict(os.environ, PARLEY_PUSH_GRPC_ADDR="127.0.0.1:7066",
               PARLEY_PUSH_METRICS_ADDR="127.0.0.1:7166",
               PARLEY_PUSH_WORKERS=str(args.workers), PARLEY_LOG_LEVEL="warn")
    sender = subprocess.Popen([args.sender], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(args.sender_log, "w"))
    begin = time.time()
    deadline = begin + args.timeout
    while time.time() < deadline:
        if sink_count(args)[0] >= len(users):
            break
        time.sleep(0.05)
    with open("/proc/%d/stat" % sender.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    sender.terminate()
    sender.wait()
    refused = sink_count(args)[1]
    os.kill(args.sink_pid, signal.SIGTERM)
    path = os.path.join(args.sink_dir, "received")
    for _ in range(100):
        if os.path.exists(path):
            break
        time.sleep(0.1)
    received = []
    for line in open(path):
        token, ms = line.split()
        received.append({"token": token, "time": int(ms) / 1000.0})
    times = sorted(r["time"] for r in received)
    last = times[-1] if times else time.time()
    first = times[0] if times else begin
    print("offline push: %d recipients, %d notifications accepted by the APNs stand-in"
          " (parley-apns-sink), %d refused" % (len(users), len(received), refused))
    print("  sends took %.2f s (batchsendmsg, 500 a call); all %d jobs queued %.2f s after the first"
          % (sent - start, len(users), queued_at - start))
    print("  a sending replica (%d workers) started: first notification after %.0f ms" %
          (args.workers, (first - begin) * 1000))
    print("  %.0f notifications/s from its start to the last notification (%.2f s);"
          " %.0f/s from the first to the last" %
          (len(received) / max(last - begin, 1e-9), last - begin,
           len(received) / max(last - first, 1e-9)))
    print("  sender CPU: %.2f s (%.0f us per notification, the process started to stopped)" %
          (cpu, cpu / max(len(received), 1) * 1e6))
    tokens = [r["token"] for r in received]
    print("  duplicates: %d, missing: %d" % (len(tokens) - len(set(tokens)),
                                              len(set("tok-" + u for u in users) - set(tokens))))


def sink_count(args):
    """(accepted, refused) so far, as parley-apns-sink writes them."""
    try:
        with open(os.path.join(args.sink_dir, "count")) as f:
            accepted, refused = f.read().split()
        return int(accepted), int(refused)
    except (OSError, ValueError):
        return 0, 0


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def allmember(args):
    """USERS accounts, ONLINE of them online on a stand-in gateway (sessions
    in Redis presence, as a gateway writes them; its stream is read back),
    DEVICES of the others with an APNs device. One im_push to everyone."""
    import re
    prefix = "ab%s_" % args.run
    users = ["%s%06d" % (prefix, i) for i in range(args.users)]
    # Earlier runs' bench accounts go first: the push is to every account.
    subprocess.run(["psql", "-q", args.pg_url, "-c",
                    "DELETE FROM accounts WHERE sdkappid = %s AND (user_id LIKE 'ab%%\\_%%'"
                    " OR user_id LIKE 'pb%%\\_%%')" % args.sdkappid],
                   check=True, stdout=subprocess.DEVNULL)
    sql = ("INSERT INTO accounts (sdkappid, user_id) SELECT %s, '%s' || lpad(g::text, 6, '0')"
           " FROM generate_series(0, %d) g ON CONFLICT DO NOTHING" % (args.sdkappid, prefix, args.users - 1))
    subprocess.run(["psql", "-q", args.pg_url, "-c", sql], check=True, stdout=subprocess.DEVNULL)
    rest(args, "parley_push/set_credential", json.load(open(args.credential)))
    redis = ["redis-cli", "-h", args.redis_host, "-p", str(args.redis_port)]
    gateway = "bench-gw-" + args.run
    now = int(time.time() * 1000)
    lines = ["SET parley:gw:%s:alive 1 EX 600\n" % gateway]
    online = users[::args.users // args.online][:args.online]
    online_set = set(online)
    for i, user in enumerate(online):
        session = json.dumps({"gateway": gateway, "platform": "Web", "device": "",
                              "login_time": now // 1000}, separators=(",", ":"))
        lines.append("HSET parley:{%s}:sessions:%s s%d '%s'\n" % (args.sdkappid, user, i, session))
    offline = [u for u in users if u not in online_set][:args.devices]
    for user in offline:
        device = json.dumps({"c": "APNs", "t": "tok-" + user, "b": 0, "p": "iPhone", "s": "gone",
                             "bg": 1, "at": now}, separators=(",", ":"))
        lines.append("HSET parley:{%s}:devices:%s APNs:tok-%s '%s'\n" % (args.sdkappid, user, user, device))
    subprocess.run(redis, input="".join(lines).encode(), check=True, stdout=subprocess.DEVNULL)
    subprocess.run(redis + ["DEL", "parley:push:queue", "parley:push:retry"], check=True,
                   stdout=subprocess.DEVNULL)
    control(args, "/reset", {})
    pids = {}
    for name in ("push", "auth"):
        try:
            pids[name] = int(open(os.path.join(args.data, "pids", name + ".pid")).read())
        except OSError:
            pass
    base = {name: rss_kb(pid) for name, pid in pids.items()}
    peak = dict(base)
    start = time.time()
    task = rest(args, "all_member_push/im_push", {
        "From_Account": args.admin, "MsgRandom": 7, "MsgLifeTime": 3600,
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "to everyone " + args.run}}]})
    online_done = pushed_done = None
    seen = set()
    last_id = "0-0"
    pattern = re.compile(re.escape(prefix.encode()) + rb"\d{6}")
    while time.time() < start + args.timeout and (online_done is None or pushed_done is None):
        for name, pid in pids.items():
            peak[name] = max(peak[name], rss_kb(pid))
        if online_done is None:
            out = subprocess.run(redis + ["--no-raw", "XRANGE", "parley:gw:" + gateway,
                                          "(" + last_id if last_id != "0-0" else "-", "+"],
                                 capture_output=True).stdout
            for entry_id in re.findall(rb'"(\d+-\d+)"', out):
                last_id = entry_id.decode()
            raw = subprocess.run(redis + ["--raw", "XRANGE", "parley:gw:" + gateway, "-", "+"],
                                 capture_output=True).stdout
            seen = set(pattern.findall(raw))
            if len(seen) >= len(online):
                online_done = time.time()
        if pushed_done is None and control(args, "/count")["accepted"] >= len(offline):
            pushed_done = time.time()
        time.sleep(0.1)
    subprocess.run(redis + ["DEL", "parley:gw:" + gateway, "parley:gw:%s:alive" % gateway],
                   stdout=subprocess.DEVNULL)
    print("all-member push: %d users, %d online, %d offline devices" %
          (args.users, len(online), len(offline)))
    print("  every online user's event in their gateway's stream: %s" %
          ("%.2f s" % (online_done - start) if online_done else "not within %d s (%d)" % (args.timeout, len(seen))))
    print("  every offline device pushed (APNs stand-in): %s" %
          ("%.2f s" % (pushed_done - start) if pushed_done else
           "not within %d s (%d)" % (args.timeout, control(args, "/count")["accepted"])))
    for name in pids:
        print("  %s RSS: %.1f MB before, %.1f MB at most during the run" %
              (name, base[name] / 1024, peak[name] / 1024))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["offline", "allmember"])
    parser.add_argument("--http", default="127.0.0.1:8080")
    parser.add_argument("--sdkappid", required=True)
    parser.add_argument("--admin", default="administrator")
    parser.add_argument("--usersig", required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--credential", required=True)
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=16379)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--run", default=str(int(time.time())))
    parser.add_argument("--sender", required=True)
    parser.add_argument("--sender-log", default="/dev/null")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--online", type=int, default=10000)
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--pg-url", default="")
    parser.add_argument("--data", default="")
    parser.add_argument("--sink-dir", default="")
    parser.add_argument("--sink-pid", type=int, default=0)
    args = parser.parse_args()
    if args.mode == "offline":
        offline(args)
    else:
        allmember(args)


if __name__ == "__main__":
    main()
