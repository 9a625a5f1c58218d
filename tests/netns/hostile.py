#!/usr/bin/env python3
# tests/netns/hostile.py: hostile traffic for tests/netns/hostile.sh.
#
#   hostile.py garbage HOST PORT         truncated/garbage datagrams of every type
#   hostile.py flood HOST PORT N NPORTS  N bogus 148-byte initiations from NPORTS ports
#   hostile.py forge HOST PORT IFACE     sniff a real data message to HOST:PORT on
#                                        IFACE, then send forged data messages with
#                                        its receiver index (bad tag, huge counters)
#                                        from other source ports
#   hostile.py uapi SOCKPATH             malformed UAPI requests; exits 1 if a bad
#                                        "set" is not answered with errno!=0
#   hostile.py mac1flood HOST PORT PUBKEY SECS RATE NPORTS [PHASE]
#                                        for SECS seconds, about RATE per second
#                                        junk initiations whose MAC1 is valid for
#                                        PUBKEY (base64) from NPORTS ports; counts
#                                        the cookie replies that come back; with
#                                        PHASE (0..1), goes on (< 1 s more) until
#                                        CLOCK_MONOTONIC is PHASE into a second
#
# Every network wait is bounded.
#
# SPDX-License-Identifier: MIT OR Apache-2.0

import os
import random
import socket
import struct
import sys
import time


def garbage(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    n = 0
    dst = (host, port)
    # Every type byte, every length 0..200, with a zero-padded and a random body.
    for t in (0, 1, 2, 3, 4, 5, 255):
        for ln in range(0, 201):
            for body in (b"\0" * 200, os.urandom(200)):
                d = (bytes([t, 0, 0, 0]) + body)[:ln]
                s.sendto(d, dst)
                n += 1
                # Reserved bytes set (must be zero in a valid message).
                if ln >= 4:
                    s.sendto(bytes([t, 1, 2, 3]) + d[4:], dst)
                    n += 1
        # The exact sizes of each message type, random content.
        for ln in (148, 92, 64, 32, 33, 147, 149, 91, 93, 63, 65, 31, 1500, 65507):
            s.sendto(bytes([t, 0, 0, 0]) + os.urandom(ln - 4), dst)
            n += 1
    # Pure random datagrams.
    for _ in range(500):
        s.sendto(os.urandom(random.randint(0, 300)), dst)
        n += 1
    print("garbage: sent %d datagrams to %s:%d" % (n, host, port))


def flood(host, port, count, nports):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(nports)]
    dst = (host, port)
    t0 = time.time()
    sent = 0
    for i in range(count):
        msg = b"\x01\0\0\0" + os.urandom(144)
        try:
            socks[i % nports].sendto(msg, dst)
            sent += 1
        except OSError:
            time.sleep(0.001)
    dt = time.time() - t0
    print("flood: sent %d bogus initiations from %d ports in %.2fs" % (sent, nports, dt))


def mac1_initiation(mac1_key):
    """A 148-byte initiation: junk fields, a valid MAC1, no MAC2."""
    import hashlib
    body = b"\x01\0\0\0" + os.urandom(112)
    mac1 = hashlib.blake2s(body, digest_size=16, key=mac1_key).digest()
    return body + mac1 + b"\0" * 16


def mac1flood(host, port, pubkey_b64, secs, rate, nports, phase=None):
    import base64
    import hashlib
    pub = base64.b64decode(pubkey_b64)
    if len(pub) != 32:
        print("mac1flood: bad public key")
        return 2
    mac1_key = hashlib.blake2s(b"mac1----" + pub).digest()
    pool = [mac1_initiation(mac1_key) for _ in range(4096)]
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    for _ in range(nports):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setblocking(False)
        socks.append(s)
    dst = (host, port)
    secs = min(secs, 30.0)  # bounded whatever the caller asks
    t0 = time.monotonic()
    end = t0 + secs
    if phase is not None and 0 <= phase < 1:
        # Stop at a chosen point of the monotonic second (daemons keep time
        # on the same clock): a load meter counting whole seconds shows.
        aligned = int(end) + phase
        end = aligned if aligned >= end else aligned + 1
    tick = 0.005
    per_tick = max(1, int(rate * tick))
    sent = 0
    cookies = 0
    i = 0
    nxt = t0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for _ in range(per_tick):
            try:
                socks[i % nports].sendto(pool[i % len(pool)], dst)
                sent += 1
            except OSError:
                pass
            i += 1
        # Drain what came back (cookie replies are type 3, 64 bytes).
        for s in socks:
            while True:
                try:
                    d = s.recv(128)
                except OSError:
                    break
                if len(d) == 64 and d[0] == 3:
                    cookies += 1
        nxt += tick
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.5:
            nxt = time.monotonic()  # too slow: do not try to catch up
    dt = time.monotonic() - t0
    for s in socks:
        while True:
            try:
                d = s.recv(128)
            except OSError:
                break
            if len(d) == 64 and d[0] == 3:
                cookies += 1
    print("mac1flood: sent %d MAC1-valid initiations from %d ports in %.2fs (%.0f/s), "
          "ended %.3f into a monotonic second; %d cookie replies seen"
          % (sent, nports, dt, sent / dt if dt else 0, (t0 + dt) % 1, cookies))
    return 0


def forge(host, port, iface, secs=8.0):
    # AF_PACKET sniff (cooked: IP packets) for a UDP datagram to host:port of type 4.
    ETH_P_ALL = 3
    r = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    r.bind((iface, 0))
    r.settimeout(0.5)
    v6 = ":" in host
    dst_raw = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, host)
    idx = None
    end = time.time() + secs
    while time.time() < end and idx is None:
        try:
            pkt, addr = r.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_HOST:
            continue  # incoming to us; we want what we send to the target
        if not v6 and len(pkt) >= 20 and pkt[0] >> 4 == 4 and pkt[9] == 17:
            ihl = (pkt[0] & 15) * 4
            if pkt[16:20] != dst_raw:
                continue
            udp = pkt[ihl:]
        elif v6 and len(pkt) >= 40 and pkt[0] >> 4 == 6 and pkt[6] == 17:
            if pkt[24:40] != dst_raw:
                continue
            udp = pkt[40:]
        else:
            continue
        if len(udp) < 8 + 32:
            continue
        dport = struct.unpack("!H", udp[2:4])[0]
        if dport != port or udp[8] != 4:
            continue
        idx = udp[12:16]
    r.close()
    if idx is None:
        print("forge: no data message to %s:%d seen on %s" % (host, port, iface))
        return 2
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    n = 0
    socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(8)]
    for i, s in enumerate(socks):
        for ctr in (0, 1, 2, 1000, 2**32, 2**60, 2**64 - 2**13 - 1, 2**64 - 1):
            for ln in (0, 16, 32, 64, 1400):
                msg = b"\x04\0\0\0" + idx + struct.pack("<Q", ctr) + os.urandom(ln)
                s.sendto(msg, (host, port))
                n += 1
    print("forge: receiver index %s: sent %d forged data messages from %d ports"
          % (idx.hex(), n, len(socks)))
    return 0


def uapi_req(path, data, wait=3.0, close_write=False):
    """Sends data, returns (response bytes, how it ended)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    s.connect(path)
    senderr = ""
    try:
        s.sendall(data)
    except OSError as e:
        # The daemon may have answered before it closed: read on.
        senderr = "send error %s, " % e.__class__.__name__
    if close_write:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    buf = b""
    how = "eof"
    end = time.time() + wait
    while b"\n\n" not in buf and time.time() < end:
        try:
            c = s.recv(65536)
        except socket.timeout:
            how = "timeout"
            break
        except OSError as e:
            how = "recv error %s" % e.__class__.__name__
            break
        if not c:
            break
        buf += c
    else:
        if b"\n\n" in buf:
            how = "answered"
        elif time.time() >= end:
            how = "timeout"
    s.close()
    return buf, senderr + how


def errno_of(buf):
    for line in buf.decode("latin-1").split("\n"):
        if line.startswith("errno="):
            return line[6:]
    return None


def uapi(path):
    bad = 0
    goodkey = "a" * 63 + "="  # 32 bytes, valid base64, but hex is required
    hexkey = os.urandom(32).hex()
    sets = [
        ("listen_port=99999", b"set=1\nlisten_port=99999\n\n"),
        ("listen_port=-1", b"set=1\nlisten_port=-1\n\n"),
        ("listen_port=abc", b"set=1\nlisten_port=abc\n\n"),
        ("private_key=zz", b"set=1\nprivate_key=zz\n\n"),
        ("private_key base64", ("set=1\nprivate_key=%s\n\n" % goodkey).encode()),
        ("private_key 31 bytes", ("set=1\nprivate_key=%s\n\n" % hexkey[:62]).encode()),
        ("fwmark=abc", b"set=1\nfwmark=abc\n\n"),
        ("endpoint before public_key", b"set=1\nendpoint=10.0.0.1:1\n\n"),
        ("allowed_ip before public_key", b"set=1\nallowed_ip=10.9.9.0/24\n\n"),
        ("persistent_keepalive before public_key",
         b"set=1\npersistent_keepalive_interval=5\n\n"),
        ("preshared_key before public_key",
         ("set=1\npreshared_key=%s\n\n" % hexkey).encode()),
        ("public_key=zz", b"set=1\npublic_key=zz\n\n"),
        ("unknown key", b"set=1\nfrobnicate=1\n\n"),
        ("line without =", b"set=1\nhello world\n\n"),
        ("NUL bytes", b"set=1\nlisten_port=\0\0\0\n\n"),
        ("invalid utf-8", b"set=1\nprivate_key=\xff\xfe\xfd\n\n"),
        ("huge line (1 MiB value)",
         b"set=1\nprivate_key=" + b"a" * (1 << 20) + b"\n\n"),
    ]
    for name, data in sets:
        buf, how = uapi_req(path, data)
        e = errno_of(buf)
        ok = e is not None and e not in ("0", "")
        print("uapi %-40s -> %s errno=%s%s" % (name, how, e, "" if ok else "  <-- BAD"))
        if not ok:
            bad += 1
    # Not "set": garbage operations, half requests, closes, a huge line
    # without newline.  An answer with errno=0 is wrong; closing or a
    # non-zero errno is fine.
    others = [
        ("garbage op", b"hello\n\n", False),
        ("garbage binary", os.urandom(512), True),
        ("empty line", b"\n", True),
        ("set=2", b"set=2\n\n", False),
        ("get=1 without blank line, close", b"get=1\n", True),
        ("set=1 without blank line, close", b"set=1\n", True),
        ("half op, close", b"ge", True),
        ("huge line no newline (4 MiB)", b"x" * (4 << 20), True),
        ("huge op line (4 MiB)", b"g" * (4 << 20) + b"\n\n", False),
    ]
    for name, data, cw in others:
        buf, how = uapi_req(path, data, close_write=cw)
        e = errno_of(buf)
        # "set=1" then EOF is an empty transaction: wireguard-go applies
        # nothing and answers errno=0 too.
        ok = e != "0" or name.startswith("get=1") or name.startswith("set=1")
        print("uapi %-40s -> %s errno=%s%s" % (name, how, e, "" if ok else "  <-- BAD"))
        if not ok:
            bad += 1
    # An idle connection and a half-sent op must not block other clients.
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(path)
    half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    half.connect(path)
    half.sendall(b"get")
    t0 = time.time()
    buf, how = uapi_req(path, b"get=1\n\n", wait=5.0)
    e = errno_of(buf)
    dt = time.time() - t0
    ok = e == "0" and b"private_key=" in buf
    print("uapi %-40s -> %s errno=%s in %.2fs%s" % (
        "get=1 while 2 clients stall", how, e, dt, "" if ok else "  <-- BAD"))
    if not ok:
        bad += 1
    idle.close()
    half.close()
    # Many connections opened and dropped at once.
    conns = []
    for _ in range(200):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            c.connect(path)
            conns.append(c)
        except OSError:
            c.close()
            break
    for c in conns:
        c.close()
    print("uapi opened and dropped %d connections" % len(conns))
    buf, how = uapi_req(path, b"get=1\n\n", wait=5.0)
    if errno_of(buf) != "0":
        print("uapi get=1 after the connection storm -> %s errno=%s  <-- BAD" % (how, errno_of(buf)))
        bad += 1
    print("uapi: %d bad answers" % bad)
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "garbage":
        garbage(argv[2], int(argv[3]))
        return 0
    if cmd == "flood":
        flood(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
        return 0
    if cmd == "forge":
        return forge(argv[2], int(argv[3]), argv[4])
    if cmd == "uapi":
        return uapi(argv[2])
    if cmd == "mac1flood":
        return mac1flood(argv[2], int(argv[3]), argv[4], float(argv[5]),
                         float(argv[6]), int(argv[7]),
                         float(argv[8]) if len(argv) > 8 else None)
    print("unknown command %s" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
