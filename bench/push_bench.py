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
    control(args, "/reset", {})
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
        if control(args, "/count")["accepted"] >= len(users):
            break
        time.sleep(0.1)
    with open("/proc/%d/stat" % sender.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    sender.terminate()
    sender.wait()
    received = [r for r in control(args, "/received") if r["vendor"] == "apns" and r["accepted"]]
    times = sorted(r["time"] for r in received)
    last = times[-1] if times else time.time()
    first = times[0] if times else begin
    print("offline push: %d recipients, %d notifications accepted by the APNs stand-in" %
          (len(users), len(received)))
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["offline"])
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
    args = parser.parse_args()
    offline(args)


if __name__ == "__main__":
    main()
