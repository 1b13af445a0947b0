#!/usr/bin/python3
"""Integration tests of the microblog feed (docs/microblog.md): real hostless
daemons on 127.0.0.1 (see tests/support/harness.py).

usage: test_feed.py HOSTLESS_BINARY TEST_NAME
"""
import http.client
import subprocess
import json
import os
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from harness import Api, Cluster, make_site, wait_for  # noqa: E402

BIN = None
BIG = 1 << 30
ATOM = "{http://www.w3.org/2005/Atom}"


def fetch(node, address, path, timeout=60):
    """GET path of a site through node's gateway; returns (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", node.gateway_port, timeout=timeout)
    c.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    c.putheader("Host", "%s.localhost:%d" % (address, node.gateway_port))
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_feed_post_and_read():
    """Node 1 writes a feed; node 2 reads it through its gateway as JSON Feed
    and Atom, newest first, and sees a deletion after the next fetch."""
    with Cluster(BIN, 2, extra_for={2: ["--refresh-interval", "1"]}) as c:
        author, reader = c[1], c[2]
        folder = os.path.join(c.dir, "feed")
        author.run("new", folder, "--template", "feed")

        # Usage and input errors come before any publishing.
        assert author.run("post", folder, check=False).returncode == 2
        too_long = author.run("post", folder, "x" * 1001, check=False)
        assert too_long.returncode == 1 and "too long" in too_long.stderr, too_long.stderr
        not_feed = author.run("post", c.dir, "hello", check=False)
        assert not_feed.returncode == 1 and "not a feed folder" in not_feed.stderr

        first = author.json("post", folder, "first <script>alert(1)</script>")
        address = first["publish"]["address"]
        second = author.json("post", folder, "second, in reply",
                             "--reply-to", "hostless://%s/feed.json#%s" % (address, first["id"]))
        assert second["id"] > first["id"], (first["id"], second["id"])
        unknown = author.run("post", folder, "--delete", "0000000000000zzzz", check=False)
        assert unknown.returncode == 1 and "no post with the id" in unknown.stderr

        def feed_ids():
            status, body = fetch(reader, address, "/feed.json")
            if status != 200:
                return None
            doc = json.loads(body)
            return [item["id"] for item in doc["items"]] if doc.get("_hostless") else None

        assert wait_for(lambda: feed_ids() == [second["id"], first["id"]], 30), feed_ids()
        status, body = fetch(reader, address, "/feed.json")
        doc = json.loads(body)
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        assert doc["feed_url"] == "hostless://%s/feed.json" % address
        assert doc["items"][0]["_hostless"]["reply_to"] == \
            "hostless://%s/feed.json#%s" % (address, first["id"])
        assert doc["items"][1]["content_text"] == "first <script>alert(1)</script>"

        status, body = fetch(reader, address, "/feed.xml")
        assert status == 200, status
        atom = ET.fromstring(body)  # well-formed XML, or this raises
        assert atom.tag == ATOM + "feed"
        assert atom.find(ATOM + "id").text == "hostless://%s/" % address
        entries = [e.find(ATOM + "id").text for e in atom.findall(ATOM + "entry")]
        assert entries == ["hostless://%s/feed.json#%s" % (address, i)
                           for i in (second["id"], first["id"])], entries

        status, body = fetch(reader, address, "/")
        assert status == 200 and b"<script>" not in body and b"&lt;script&gt;" in body, body

        author.json("post", folder, "--delete", first["id"])
        assert wait_for(lambda: feed_ids() == [second["id"]], 30), feed_ids()
        status, body = fetch(reader, address, "/feed.xml")
        entries = [e.find(ATOM + "id").text for e in ET.fromstring(body).findall(ATOM + "entry")]
        assert entries == ["hostless://%s/feed.json#%s" % (address, second["id"])], entries


def test_feed_posts_share_a_version():
    """Posts made while another publish runs join one publish job: both are
    in the version it makes. A post under another key re-addresses the files."""
    with Cluster(BIN, 1) as c:
        node = c[1]
        folder = os.path.join(c.dir, "feed")
        node.run("new", folder, "--template", "feed")
        node.json("post", folder, "first")  # learns the address
        # Another site's publish holds the daemon's one publish slot while it
        # hashes a big file.
        other = make_site(os.path.join(c.dir, "other"), {"index.html": "other"})
        with open(os.path.join(other, "big.bin"), "wb") as f:
            f.truncate(BIG)
        api = Api(node)
        busy = api.start("publish", {"folder": other, "key": ""})
        started = time.monotonic()
        posts = [subprocess.Popen(node.cli_argv(["post", folder, text, "--json"]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for text in ("second", "third")]
        outs = [p.communicate(timeout=50) for p in posts]
        print("the posts took %.1f s" % (time.monotonic() - started))
        assert all(p.returncode == 0 for p in posts), outs
        results = [json.loads(o[0]) for o in outs]
        assert api.job(busy)["state"] == "done"
        seqs = [r["publish"]["seq"] for r in results]
        assert seqs[0] == seqs[1], seqs
        with open(os.path.join(folder, "feed.json")) as f:
            texts = [item["content_text"] for item in json.load(f)["items"]]
        assert sorted(texts) == ["first", "second", "third"], texts
        print("two posts, one version: seq", seqs[0])

        # Posted under another key, the files name the new address.
        node.run("keys", "new", "second-key")
        moved = node.json("post", folder, "fourth", "--key", "second-key")
        new_address = moved["publish"]["address"]
        assert new_address != results[0]["publish"]["address"]
        with open(os.path.join(folder, "feed.json")) as f:
            doc = json.load(f)
        assert doc["_hostless"]["address"] == new_address, doc["_hostless"]
        assert doc["feed_url"] == "hostless://%s/feed.json" % new_address


def test_feed_follow():
    """Node 2 follows node 1's feed under a handle: it keeps the feed (all
    but media/, fetched only when read, unless --media), takes each new
    version by polling, keeps following after a restart, and serves the feed
    with its author offline, also to node 3, a new follower. Node 3 refuses a
    version above its --follow-max-mib. Bad handles, clashes and role
    conflicts get errors that say what to do."""
    with Cluster(BIN, 3, extra_for={2: ["--mirror-interval", "1"],
                                     3: ["--follow-max-mib", "1"]}) as c:
        author, follower, late = c[1], c[2], c[3]
        folder = os.path.join(c.dir, "feed")
        author.run("new", folder, "--template", "feed")
        first = author.json("post", folder, "hello, followers")
        address = first["publish"]["address"]

        bad = follower.run("follow", address, "--as", "9lives", check=False)
        assert bad.returncode == 1 and "must start with a letter" in bad.stderr, bad.stderr
        bad = follower.run("follow", "not-an-address", check=False)
        assert bad.returncode == 1 and "address" in bad.stderr, bad.stderr
        assert "not following any feed" in follower.run("following").stdout

        took = time.monotonic()
        r = follower.json("follow", address, "--as", "@Alice")
        print("follow took %.1f s" % (time.monotonic() - took))
        assert r["handle"] == "alice" and r["seq"] == first["publish"]["seq"], r

        def entry(node):
            found = [s for s in node.json("following") if s["address"] == address]
            return found[0] if found else None

        e = entry(follower)
        assert e["role"] == "followed" and e["handle"] == "alice", e
        assert e["on_disk"] == e["size"], e  # kept whole
        assert "name" in e, e  # and its name kept alive, like a mirror's
        listing = follower.run("following").stdout
        assert "@alice" in listing and address in listing, listing

        # A second feed cannot take the same handle; a followed feed is not
        # mirrored over it (and a mirrored one not followed) without saying so.
        other = os.path.join(c.dir, "other")
        author.run("new", other, "--template", "feed")
        author.run("keys", "new", "other-key")
        other_address = author.json("post", other, "another feed",
                                    "--key", "other-key")["publish"]["address"]
        clash = follower.run("follow", other_address, "--as", "alice", check=False)
        assert clash.returncode == 1 and "already names %s" % address in clash.stderr, clash.stderr
        both = follower.run("mirror", address, check=False)
        assert both.returncode == 1 and "unfollow" in both.stderr, both.stderr

        # A new post reaches the follower by its poll (every second here).
        second = author.json("post", folder, "second post")

        def followed_seq():
            e = entry(follower)
            return e and e["seq"]

        assert wait_for(lambda: followed_seq() == second["publish"]["seq"], 60), entry(follower)

        # Following survives a restart.
        follower.stop()
        follower.start()
        assert entry(follower)["handle"] == "alice"

        # With the author gone, the follower still serves the feed, and a new
        # follower gets it from the follower.
        author.stop()
        status, body = fetch(follower, address, "/feed.json")
        assert status == 200 and b"second post" in body, status
        late_r = late.run("follow", address, "--as", "alice", check=False, timeout=180)
        assert late_r.returncode == 0, late_r.stderr
        status, body = fetch(late, address, "/feed.json")
        assert status == 200 and b"second post" in body, status

        # Unfollow by handle frees it; a second unfollow says it is not followed.
        out = late.run("unfollow", "alice").stdout
        assert "no longer following %s" % address in out, out
        assert entry(late) is None
        again = late.run("unfollow", "alice", check=False)
        assert again.returncode == 1 and "neither a followed feed's handle" in again.stderr

        # A feed above the follower's cap (1 MiB here) is refused before any
        # of it is downloaded.
        author.start()
        big = os.path.join(c.dir, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(3 << 20))
        third = author.json("post", folder, "a big attachment", "--attach", big)
        assert wait_for(lambda: followed_seq() == third["publish"]["seq"], 60), entry(follower)
        # A follow keeps all but media/: the attachment is not fetched, also
        # not after a restart, until it is read.
        e = entry(follower)
        assert e["media"] is False and e["size"] > (3 << 20) and e["wanted"] < (1 << 20), e
        assert e["on_disk"] < (1 << 20), e
        follower.stop()
        follower.start()
        time.sleep(3)
        assert entry(follower)["on_disk"] < (1 << 20), entry(follower)
        [att] = [p for p in follower.json("timeline")["posts"] if p["text"] == "a big attachment"]
        path = att["attachments"][0]["url"].split(".localhost:%d" % follower.gateway_port)[-1]
        status, body = fetch(follower, address, path)
        with open(big, "rb") as f:
            assert status == 200 and body == f.read(), (status, len(body))
        print("media/ fetched only when read")

        # (Until the late node's lookups find seq 3, its follow would take seq 2.)
        assert wait_for(lambda: late.json("resolve", address)["seq"] == third["publish"]["seq"],
                        60)
        # Without its media the feed is under the late node's 1 MiB cap; with
        # it, it is refused.
        small = late.json("follow", address)
        assert small["media"] is False and small["bytes"] < (1 << 20), small
        late.run("unfollow", address)
        capped = late.run("follow", address, "--media", check=False, timeout=180)
        assert capped.returncode == 1 and \
            "MiB a followed feed or blocklist may take" in capped.stderr, capped.stderr
        assert entry(late) is None, entry(late)
        print("refused:", capped.stderr.strip())

        # Following again with --media keeps it all.
        assert follower.json("follow", address, "--media")["media"] is True
        e = entry(follower)
        assert e["media"] is True and e["on_disk"] == e["size"] and "wanted" not in e, e


def test_feed_push():
    """Three nodes follow node 1's feed with the default --mirror-interval
    (300 s): each new post reaches all of them within seconds, which only the
    pointer push can do (docs/microblog.md), twice in a row (the connections
    of the new version are kept for the next push), each with the new
    version's metadata (hostless_info)."""
    os.environ["HOSTLESS_DEBUG_PUSH"] = "1"  # the daemons log each push they get
    with Cluster(BIN, 4) as c:
        author, followers = c[1], [c[2], c[3], c[4]]
        folder, address = new_feed(c, author, "first")
        for i, f in enumerate(followers):
            f.json("follow", address, "--as", "author%d" % i)

        def seqs():
            out = []
            for f in followers:
                e = [s for s in f.json("following") if s["address"] == address]
                out.append(e[0]["seq"] if e else None)
            return out

        time.sleep(3)  # every follower done, and its connections kept
        for text in ("second", "third"):
            posted = time.monotonic()
            seq = author.json("post", folder, text)["publish"]["seq"]
            started = time.monotonic()
            assert wait_for(lambda: seqs() == [seq] * 3, 60), seqs()
            took = time.monotonic() - started
            print("post %r (seq %d) in all 3 followers' copies %.1f s after `post` returned "
                  "(which took %.1f s)" % (text, seq, took, started - posted))
            assert took < 30, took  # a poll would take up to 300 s
            for f in followers:
                status, body = fetch(f, address, "/feed.json")
                assert status == 200 and text.encode() in body, (status, body[:200])
                pushes = re.findall(r"\[push\] \d+ got seq %d from \S+, metadata (\d+) bytes" % seq,
                                    f.read_log())
                assert pushes and max(int(m) for m in pushes) > 0, \
                    "node %d got seq %d without its metadata: %s" % (f.index, seq, pushes)


def test_feed_timeline():
    """Node 3 follows alice (node 1) and bob (node 2): `timeline` shows their
    posts newest first with handles, bob's reply threaded to @alice, a
    script as text; a "feed" whose feed.json is not JSON is followed but
    shown as refused, not as posts."""
    with Cluster(BIN, 3) as c:
        alice, bob, reader = c[1], c[2], c[3]
        feeds = {}
        for name, node in (("alice", alice), ("bob", bob)):
            folder = os.path.join(c.dir, name)
            node.run("new", folder, "--template", "feed")
            feeds[name] = folder
        a1 = alice.json("post", feeds["alice"], "hello from alice <script>alert(1)</script>")
        alice_addr = a1["publish"]["address"]
        time.sleep(1.1)
        b1 = bob.json("post", feeds["bob"], "hi alice",
                      "--reply-to", "hostless://%s/feed.json#%s" % (alice_addr, a1["id"]))
        bob_addr = b1["publish"]["address"]
        broken = make_site(os.path.join(c.dir, "broken"), {"index.html": "x",
                                                           "feed.json": "{not json"})
        bob.run("keys", "new", "broken-key")
        broken_addr = bob.json("publish", broken, "--key", "broken-key")["address"]

        empty = reader.run("timeline").stdout
        assert "no posts yet" in empty, empty
        reader.json("follow", alice_addr, "--as", "alice")
        reader.json("follow", bob_addr, "--as", "bob")
        reader.json("follow", broken_addr, "--as", "broken")

        t = reader.json("timeline")
        texts = [(p.get("handle"), p["text"]) for p in t["posts"]]
        assert texts == [("bob", "hi alice"),
                         ("alice", "hello from alice <script>alert(1)</script>")], texts
        assert t["posts"][0]["reply_to_handle"] == "alice", t["posts"][0]
        errors = {f.get("handle"): f.get("error") for f in t["feeds"]}
        assert errors["alice"] is None and errors["bob"] is None, errors
        assert "not valid JSON" in errors["broken"], errors

        p = reader.run("timeline", "--limit", "1")
        assert "@bob" in p.stdout and "reply to @alice" in p.stdout, p.stdout
        assert "@alice" not in p.stdout.split("reply to")[0], p.stdout
        assert "broken: not shown" in p.stderr and "not valid JSON" in p.stderr, p.stderr
        bad = reader.run("timeline", "--limit", "0", check=False)
        assert bad.returncode == 2, bad.returncode


def new_feed(cluster, node, *post):
    """A feed folder made on `node` and published with a first post (`post`:
    the text, then any `hostless post` flags); returns (folder, address)."""
    folder = os.path.join(cluster.dir, "feed")
    node.run("new", folder, "--template", "feed")
    return folder, node.json("post", folder, *post)["publish"]["address"]


def share_key(cluster, laptop, phone):
    """A new key "me" on `laptop`, exported and imported on `phone`."""
    laptop.run("keys", "new", "me")
    key_file = os.path.join(cluster.dir, "me.key")
    laptop.run("keys", "export", "me", "-o", key_file)
    phone.run("keys", "import", key_file, "--name", "me")


def test_two_devices_one_key():
    """One key on two nodes (`keys export` / `keys import`): each publish is
    signed above the seq the DHT holds, so the newest publish wins wherever
    it was made, and publishing over another device's version says so."""
    with Cluster(BIN, 3) as c:
        laptop, phone, reader = c[1], c[2], c[3]
        share_key(c, laptop, phone)

        def site(name, text):
            return make_site(os.path.join(c.dir, name), {"index.html": text})

        def shown():
            status, body = fetch(reader, address, "/", timeout=60)
            return body.decode() if status == 200 else None

        one = laptop.json("publish", site("laptop", "<h1>from the laptop</h1>"), "--key", "me")
        address = one["address"]
        assert one["seq"] == 1, one
        p = phone.run("publish", site("phone", "<h1>from the phone</h1>"), "--key", "me",
                      "--json")
        two = json.loads(p.stdout)
        assert two["seq"] == 2 and two["other_device"]["seq"] == 1, two
        assert reader.json("resolve", address)["seq"] == 2
        assert wait_for(lambda: shown() == "<h1>from the phone</h1>", 60), shown()
        p = phone.run("publish", os.path.join(c.dir, "phone"), "--key", "me")
        assert "another device" in p.stderr or "unchanged" in p.stderr, p.stderr

        # The laptop, back after a while (a restart), publishes again: above 2.
        laptop.stop()
        laptop.start()
        make_site(os.path.join(c.dir, "laptop"), {"index.html": "<h1>laptop again</h1>"})
        p = laptop.run("publish", os.path.join(c.dir, "laptop"), "--key", "me", "--json")
        three = json.loads(p.stdout)
        assert three["seq"] == 3 and three["other_device"]["seq"] == 2, three
        assert wait_for(lambda: reader.json("resolve", address)["seq"] == 3, 30)
        assert wait_for(lambda: shown() == "<h1>laptop again</h1>", 60), shown()


def test_feed_poll():
    """Without push, a follower learns of a new version by polling the DHT
    nodes that hold the feed's name directly (node/poll.hpp): the author's
    laptop goes offline and its phone, which never held the old version and
    so pushes to nobody, posts; the follower's polls find the new seq."""
    with Cluster(BIN, 4, extra_for={3: ["--mirror-interval", "1"]}) as c:
        laptop, phone, follower = c[1], c[2], c[3]
        share_key(c, laptop, phone)
        folder = os.path.join(c.dir, "feed")
        laptop.run("new", folder, "--template", "feed")
        one = laptop.json("post", folder, "one", "--key", "me")["publish"]
        address = one["address"]
        follower.json("follow", address, "--as", "me")

        def polls():
            return follower.json("status")["polls"]

        # Polls of a name nobody changes are answered by the nodes found at
        # the first (a walk), asked directly.
        assert wait_for(lambda: polls()["direct"] >= 3, 30), polls()
        before = polls()
        assert before["found_newer"] == 0, before

        laptop.stop()
        copy = os.path.join(c.dir, "feed-on-phone")
        shutil.copytree(folder, copy)
        # Written, then published as a plain folder: `post` would first fetch
        # the version the DHT holds to merge its posts, and the phone would
        # then push over it (a fetch's connections can outlive it).
        phone.run("post", copy, "two", "--no-publish")
        two = phone.json("publish", copy, "--key", "me")
        assert two["seq"] == one["seq"] + 1, (one, two)

        def texts():
            return [p["text"] for p in follower.json("timeline")["posts"]]

        assert wait_for(lambda: texts() == ["two", "one"], 60), texts()
        after = polls()
        print("polls:", after)
        assert after["found_newer"] >= 1, after


def test_feed_two_devices():
    """One feed posted to from two devices: each `post` first merges the
    posts of a version the other device published (fetched from whoever
    holds it: here the follower, with the other device offline), so no post
    is lost and a follower sees them all in order; a deletion made on one
    device stays deleted after the other device's next post."""
    # The reader polls every second: a version the phone publishes over one
    # it fetched only to merge reaches no follower by push (the fetch's
    # connections are closed), so the reader's poll finds it. Node 4 only
    # stores names: with the laptop offline, the phone's put would otherwise
    # reach only the reader, and no node keeps its own puts.
    with Cluster(BIN, 4, extra_for={3: ["--mirror-interval", "1"]}) as c:
        laptop, phone, reader = c[1], c[2], c[3]
        share_key(c, laptop, phone)
        folder, address = new_feed(c, laptop, "one", "--key", "me")
        copy = os.path.join(c.dir, "feed-on-phone")
        phone.run("get", address, copy)  # the phone's folder: a copy of the feed
        reader.json("follow", address, "--as", "me")

        def texts():
            return [p["text"] for p in reader.json("timeline")["posts"]]

        laptop.json("post", folder, "two", "--key", "me")
        assert wait_for(lambda: texts() == ["two", "one"], 60), texts()
        laptop.stop()
        p = phone.run("post", copy, "three", "--key", "me")
        assert "merged 1 post" in p.stderr, p.stderr
        assert wait_for(lambda: texts() == ["three", "two", "one"], 60), texts()
        laptop.start()
        p = laptop.run("post", folder, "four", "--key", "me")
        assert "merged 1 post" in p.stderr, p.stderr
        assert wait_for(lambda: texts() == ["four", "three", "two", "one"], 60), texts()
        # Nothing new elsewhere: nothing merged, nothing fetched.
        p = laptop.run("post", folder, "five", "--key", "me")
        assert "merged" not in p.stderr, p.stderr
        assert wait_for(lambda: texts()[:2] == ["five", "four"], 60), texts()
        # A deletion on one device is not undone by the other's next post
        # (its copy still holds the post): the merge applies it.
        [three] = [x["id"] for x in reader.json("timeline")["posts"] if x["text"] == "three"]
        laptop.run("post", folder, "--delete", three, "--key", "me")
        assert wait_for(lambda: "three" not in texts(), 60), texts()
        laptop.stop()
        six = phone.json("post", copy, "six", "--key", "me")
        assert six.get("merged_deletions") == 1, six
        assert wait_for(lambda: texts() == ["six", "five", "four", "two", "one"], 60), texts()


def test_feed_hostile():
    """A hostile or broken feed cannot churn a follower, fill its disk or be
    read as more than it is: more than 6 versions a minute are not all
    taken (the newest is, after the minute); a feed.json over 1 MiB is not
    read, and the timeline says why; a version over --follow-max-mib is
    refused once, not fetched again at every poll."""
    with Cluster(BIN, 3, extra_for={2: ["--mirror-interval", "1", "--follow-max-mib", "2"]}) as c:
        author, follower = c[1], c[2]
        folder, address = new_feed(c, author, "first")
        follower.json("follow", address, "--as", "hostile")

        def newest():
            posts = follower.json("timeline")["posts"]
            return posts[0]["text"] if posts else None

        # A burst is taken as one or a few versions (a push that arrives while
        # the follower fetches is left to the next poll); a steady stream, a
        # version every 2 s, is cut at 6 a minute.
        for k in range(10):
            author.json("post", folder, "burst %d" % k)
            time.sleep(2)
        assert wait_for(lambda: "versions within a minute" in follower.read_log(), 30), \
            follower.read_log()[-2000:]
        assert wait_for(lambda: newest() == "burst 9", 120), newest()

        with open(os.path.join(folder, "feed.json"), "w") as f:
            f.write('{"pad": "%s"}' % ("x" * 1500000))
        author.json("publish", folder)

        def feed_error():
            return follower.json("timeline")["feeds"][0].get("error") or ""

        assert wait_for(lambda: "1024 KiB" in feed_error(), 120), feed_error()

        # (Outside media/: a follow keeps all but media/, and the cap counts
        # what it keeps.)
        with open(os.path.join(folder, "big.bin"), "wb") as f:
            f.write(os.urandom(3 << 20))
        big = author.json("publish", folder)
        refused = "above the 2 MiB a followed feed or blocklist may take"
        assert wait_for(lambda: refused in follower.read_log(), 120), follower.read_log()[-2000:]
        time.sleep(5)  # five polls, each finding the refused version again
        assert follower.read_log().count(refused) == 1, follower.read_log()[-3000:]
        assert follower.json("following")[0]["seq"] < big["seq"]


def test_feed_block():
    """`hostless block` on a followed feed: it leaves `following`, the
    timeline and the store; the gateway refuses it saying why; follow and
    mirror say to unblock first; the author's next post moves nothing; the
    name is not re-put. `unblock` allows it again. A node cannot block a
    site it publishes."""
    with Cluster(BIN, 3) as c:
        author, reader = c[1], c[2]
        folder, address = new_feed(c, author, "hello")
        reader.json("follow", address, "--as", "spam")

        def texts():
            return [p["text"] for p in reader.json("timeline")["posts"]]

        def entry():
            return [s for s in reader.json("sites") if s["address"] == address]

        assert texts() == ["hello"], texts()
        assert reader.json("block", address)["blocked"] is True
        assert reader.json("following") == [] and texts() == []
        [e] = entry()
        assert e["role"] == "blocked" and "info_hash" not in e, e
        status, body = fetch(reader, address, "/", timeout=30)
        assert status != 200 and b"you blocked this site" in body, (status, body[:300])
        for verb in ("follow", "mirror"):
            p = reader.run(verb, address, check=False)
            assert p.returncode == 1 and "unblock" in p.stderr, (verb, p.stderr)
        author.json("post", folder, "more")
        time.sleep(3)
        [e] = entry()
        assert e["role"] == "blocked" and "info_hash" not in e, e
        p = author.run("block", address, check=False)
        assert p.returncode == 1 and "cannot be blocked" in p.stderr, p.stderr

        assert reader.json("unblock", address)["unblocked"] is True
        assert entry() == [], entry()
        assert wait_for(lambda: fetch(reader, address, "/", timeout=30)[0] == 200, 60)
        p = reader.run("unblock", address, check=False)
        assert p.returncode == 1 and "not blocked" in p.stderr, p.stderr


def test_feed_blocklist():
    """A blocklist is a site with a blocklist.json (docs/microblog.md): a
    node that subscribes to one drops its visited copy of a listed site,
    refuses to open it (naming the list), leaves it out of the network view,
    keeps what it follows itself (noting the listing), and takes the list's
    new versions; a site without a blocklist.json is not taken as one."""
    with Cluster(BIN, 3, extra_for={3: ["--mirror-interval", "1"]}) as c:
        pub, friend, reader = c[1], c[2], c[3]
        _, spam = new_feed(c, pub, "buy now")
        friend.json("follow", spam)  # so the friend's following.json names it
        friend_folder = os.path.join(c.dir, "friend-feed")
        friend.run("new", friend_folder, "--template", "feed")
        friend_address = friend.json("post", friend_folder, "hello")["publish"]["address"]
        reader.json("follow", friend_address, "--as", "friend")

        def suggested():
            return [f["address"] for f in reader.json("network")["feeds"]]

        assert wait_for(lambda: spam in suggested(), 60), suggested()
        assert fetch(reader, spam, "/")[0] == 200  # visited, so held and seeded

        def roles():
            return {s["address"]: s["role"] for s in reader.json("sites")}

        assert roles().get(spam) == "visited", roles()

        plain = os.path.join(c.dir, "plain")
        make_site(plain, {"index.html": b"<title>plain</title>"})
        plain_address = pub.json("publish", plain)["address"]
        bad = reader.run("blocklist", "subscribe", plain_address, check=False)
        assert bad.returncode == 1 and "is not a blocklist" in bad.stderr, bad.stderr
        assert plain_address not in roles() or roles()[plain_address] != "blocklist", roles()

        pub.run("keys", "new", "list")
        folder = os.path.join(c.dir, "list")

        def write_list(entries):
            make_site(folder, {"index.html": b"<title>my blocklist</title>",
                               "blocklist.json": json.dumps({"hostless_blocklist": 1,
                                                             "blocked": entries}).encode()})
            return pub.json("publish", folder, "--key", "list")

        listed = write_list([{"address": spam, "reason": "spam"},
                             {"address": "not-an-address", "reason": "skipped"}])
        sub = reader.json("blocklist", "subscribe", listed["address"])
        assert sub["entries"] == 1, sub
        assert wait_for(lambda: spam not in roles(), 30), roles()
        assert roles()[listed["address"]] == "blocklist", roles()
        status, body = fetch(reader, spam, "/")
        assert status != 200 and b"blocklist" in body and listed["address"].encode() in body, \
            (status, body[:500])
        assert spam not in suggested(), suggested()
        lists = reader.json("blocklist", "list")
        assert [(x["address"], x["entries"]) for x in lists] == [(listed["address"], 1)], lists
        print("subscribed: the listed site is dropped, refused and not suggested")

        # The user's own choice wins: a listed feed can be followed, with a note.
        reader.json("follow", spam, "--as", "spam")
        [e] = [f for f in reader.json("following") if f["address"] == spam]
        assert e["listed_by"] == listed["address"] and e["listed_reason"] == "spam", e
        assert "is on the blocklist" in reader.run("following").stderr
        assert fetch(reader, spam, "/feed.json")[0] == 200
        reader.run("unfollow", "spam")

        # The list's next version lists nothing: the site opens again.
        write_list([])
        assert wait_for(lambda: fetch(reader, spam, "/")[0] == 200, 60), fetch(reader, spam, "/")
        assert reader.json("blocklist", "list")[0]["entries"] == 0
        out = reader.run("blocklist", "unsubscribe", listed["address"]).stdout
        assert "unsubscribed from" in out, out
        assert reader.json("blocklist", "list") == []
        print("the list's new version took effect; unsubscribed")


def test_feed_five_users():
    """Five users follow each other (20 follows, the default 300 s
    --mirror-interval, so only pushes are fast): each one's post reaches the
    four others' timelines within seconds; a reply is threaded (named by the
    replier's handle for the author) everywhere; with one author offline, a
    sixth node that follows it gets the feed from the other followers."""
    with Cluster(BIN, 6) as c:
        users = [c[i] for i in range(1, 6)]
        folders, addresses = [], []
        for i, u in enumerate(users):
            folder = os.path.join(c.dir, "feed%d" % i)
            u.run("new", folder, "--template", "feed")
            folders.append(folder)
            addresses.append(u.json("post", folder, "hello from u%d" % i)["publish"]["address"])
        for i, u in enumerate(users):
            for j in range(5):
                if j != i:
                    u.json("follow", addresses[j], "--as", "u%d" % j)

        def texts(u):
            return [p["text"] for p in u.json("timeline")["posts"]]

        for u in users:
            assert sorted(texts(u)) == sorted("hello from u%d" % i for i in range(5)), texts(u)
        time.sleep(3)  # every follow done, and its connections kept for pushes

        took = []
        for i, u in enumerate(users):
            text = "second post of u%d" % i
            started = time.monotonic()
            u.json("post", folders[i], text)
            assert wait_for(lambda: all(text in texts(v) for v in users), 60), \
                [texts(v) for v in users]
            took.append(time.monotonic() - started)
        print("each post in all 5 timelines after %s s (post and publish included)"
              % ", ".join("%.1f" % t for t in took))
        assert max(took) < 30, took  # a poll would take up to 300 s

        # u1 replies to u0's second post.
        [target] = [p for p in users[1].json("timeline")["posts"]
                    if p["text"] == "second post of u0"]
        users[1].json("post", folders[1], "an answer", "--reply-to", target["url"])

        def replies(u):
            return [p for p in u.json("timeline")["posts"] if p["text"] == "an answer"]

        assert wait_for(lambda: all(replies(v) for v in users), 60), [texts(v) for v in users]
        for v in users:
            [r] = replies(v)
            assert r["reply_to"] == target["url"], r
            if v is users[0]:
                assert r.get("reply_to_own") and r["handle"] == "u1", r
            elif v is not users[1]:
                assert r["reply_to_handle"] == "u0", r
        print("the reply is threaded in every timeline")

        # u2 goes offline; a newcomer follows u2 and gets the feed from the others.
        users[2].stop()
        newcomer = c[6]
        started = time.monotonic()
        newcomer.json("follow", addresses[2], "--as", "u2")
        print("newcomer's follow of the offline u2: %.1f s" % (time.monotonic() - started))
        assert sorted(texts(newcomer)) == ["hello from u2", "second post of u2"], texts(newcomer)


def test_feed_network():
    """`hostless post` writes whom the node follows into the feed's
    following.json; a follower's `network` lists those feeds (the ones it
    does not follow yet), with who follows them and what they call them."""
    with Cluster(BIN, 3) as c:
        bob, alice, reader = c[1], c[2], c[3]
        _, bob_address = new_feed(c, bob, "bob here")
        folder = os.path.join(c.dir, "alice")
        alice.run("new", folder, "--template", "feed")
        alice.json("follow", bob_address, "--as", "bobby")
        alice_address = alice.json("post", folder, "alice here")["publish"]["address"]
        with open(os.path.join(folder, "following.json")) as f:
            assert json.load(f) == [{"address": bob_address, "petname": "bobby"}]

        reader.json("follow", alice_address, "--as", "al")
        n = reader.json("network")
        assert n["feeds"] == [{"address": bob_address, "followed_by": ["al"],
                               "petnames": ["bobby"]}], n
        assert "@al" in reader.run("network").stdout
        # Followed, it is no longer a suggestion.
        reader.json("follow", bob_address)
        assert reader.json("network")["feeds"] == []


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv[1])
    name = sys.argv[2]
    globals()[name]()
    print("ok", name)
