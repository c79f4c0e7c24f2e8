"""Pulls through crix-image (the image library without the daemon) against Debian's
docker-registry on loopback: formats, unpacked trees, hostile layers, errors, removal."""
import json
import os
import re
import stat
import struct
import subprocess

import pytest

import testenv
from crixtest import BUILD, wait_for


def ref(reg, name, tag="v1"):
    return "%s/crix/%s:%s" % (reg.host, name, tag)


@pytest.fixture
def cli(crix_image, registry):
    crix_image.registry(registry.host, insecure=True)
    return crix_image


def test_pull_single_records_names_and_config(cli, registry, images):
    img = images["single"]
    (image_id,) = cli.pull_ok(ref(registry, "single"))
    assert image_id == img.config_digest
    st = cli.status(ref(registry, "single"))
    assert st["id"] == img.config_digest
    assert st["repo_tags"] == [ref(registry, "single")]
    assert st["repo_digests"] == ["%s/crix/single@%s" % (registry.host, img.digest)]
    assert st["size"] == len(img.config) + sum(l["size"] for l in img.layers)
    assert st["config"]["rootfs"]["diff_ids"] == img.diff_ids
    assert st["user"] == ""
    # found by id, short id, digest reference; unknown names are null, not errors
    for name in (img.config_digest, img.config_digest[7:], img.config_digest[7:19],
                 "%s/crix/single@%s" % (registry.host, img.digest)):
        assert cli.status(name)["id"] == img.config_digest, name
    assert cli.status(ref(registry, "single", "nope")) is None
    assert cli.status("sha256:" + "0" * 64) is None
    assert [i["id"] for i in cli.list()] == [img.config_digest]
    # the layer store holds the unpacked layer and its meta
    (chain,) = st["layers"]
    meta = json.load(open(cli.dir("layers", chain[7:], "meta.json")))
    assert meta["digest"] == img.layers[0]["digest"] and meta["diff_id"] == img.diff_ids[0]
    assert os.path.isfile(cli.dir("layers", chain[7:], "diff", "bin", "busybox"))
    assert cli.listdir("tmp") == []


def test_docker_schema2_and_user(cli, registry, images):
    (image_id,) = cli.pull_ok(ref(registry, "docker"))
    assert image_id == images["docker"].config_digest
    assert cli.status(image_id)["user"] == "app"


def walk(root, names):
    """path -> (type, mode, uid, gid, content/link) for names and everything below them."""
    out = {}

    def visit(rel):
        p = os.path.join(root, rel)
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("l", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("d", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, None)
            for n in os.listdir(p):
                visit(os.path.join(rel, n))
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, open(p).read())
        else:
            out[rel] = ("?", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, None)

    for n in names:
        if os.path.lexists(os.path.join(root, n)):
            visit(n)
    return out


@pytest.mark.parametrize("name", ["multi", "zstd"])
def test_multi_layer_tree_through_overlay(cli, registry, tmp_path, name):
    (image_id,) = cli.pull_ok(ref(registry, name))
    target = str(tmp_path / "rootfs")
    cli.run("mount", "c1", image_id, target, check=True)
    try:
        assert walk(target, testenv.MULTI_CHECKED) == testenv.MULTI_EXPECTED
        # hardlink kept as one inode
        assert os.lstat(os.path.join(target, "data/hard")).st_ino == os.lstat(os.path.join(target, "data/file.txt")).st_ino
        assert os.path.isfile(os.path.join(target, "bin/busybox"))
        # the container's writes go to its upper dir, not to the shared layers
        with open(os.path.join(target, "data", "written"), "w") as f:
            f.write("x")
        assert os.path.exists(cli.dir("containers", "c1", "upper", "data", "written"))
    finally:
        cli.run("umount", "c1", check=True)
    assert not os.path.ismount(target)
    assert cli.listdir("containers") == []


@pytest.mark.parametrize("name", ["index", "index-docker"])
def test_index_picks_this_platform_not_the_first(cli, registry, images, name):
    (image_id,) = cli.pull_ok(ref(registry, name))
    assert image_id == images["index-amd64"].config_digest  # arm64 is listed first
    st = cli.status(image_id)
    assert st["repo_digests"] == ["%s/crix/%s@%s" % (registry.host, name, images[name].digest)]
    target_layers = st["layers"]
    diff = cli.dir("layers", target_layers[-1][7:], "diff", "arch")
    assert open(diff).read() == "amd64"


def test_index_without_this_platform(cli, registry):
    p = cli.pull(ref(registry, "index-noamd64"))
    assert p.returncode != 0
    assert "no image for linux/amd64 in the index (it has linux/arm64/v8)" in p.stderr


def test_pull_by_digest(cli, registry, images):
    img = images["single"]
    (image_id,) = cli.pull_ok("%s/crix/single@%s" % (registry.host, img.digest))
    st = cli.status(image_id)
    assert st["repo_tags"] == [] and st["repo_digests"] == ["%s/crix/single@%s" % (registry.host, img.digest)]
    # a digest the registry does not have
    p = cli.pull("%s/crix/single@sha256:%s" % (registry.host, "1" * 64))
    assert p.returncode != 0 and "manifest unknown (404)" in p.stderr


def test_unknown_image_error_names_reference_and_status(cli, registry):
    p = cli.pull(ref(registry, "nope", "1"))
    assert p.returncode == 1
    assert "pull %s: manifest unknown (404)" % ref(registry, "nope", "1") in p.stderr
    p = cli.pull("Not/Valid")
    assert "invalid reference \"Not/Valid\": repository name must be lowercase" in p.stderr


@pytest.mark.parametrize("name", sorted(testenv.hostile_layers()))
def test_hostile_layer_fails_and_writes_nothing_outside(cli, registry, name):
    _, entry_name, target = testenv.hostile_layers()[name]
    if target:
        assert not os.path.lexists(target)
    passwd = os.stat("/etc/passwd")
    p = cli.pull(ref(registry, "hostile-" + name))
    assert p.returncode == 1
    assert 'layer entry "%s"' % entry_name in p.stderr
    if target:
        assert not os.path.lexists(target)
    assert os.stat("/etc/passwd").st_nlink == passwd.st_nlink
    assert cli.list() == []
    assert cli.listdir("layers") == [] and cli.listdir("tmp") == []


def test_remove_by_tag_id_and_shared_layers(cli, registry, images):
    single, docker = images["single"], images["docker"]
    cli.pull_ok(ref(registry, "single"), ref(registry, "docker"))  # at the same time
    shared = cli.status(single.config_digest)["layers"][0]
    assert cli.status(docker.config_digest)["layers"] == [shared]  # same layer blob, one dir
    assert len(cli.listdir("layers")) == 1
    cli.run("rm", ref(registry, "single"), check=True)
    assert cli.status(single.config_digest) is None
    assert cli.listdir("layers") == [shared[7:]]  # still used by the docker image
    assert single.config_digest[7:] not in cli.listdir("blobs", "sha256")
    cli.run("rm", docker.config_digest, check=True)
    cli.run("rm", docker.config_digest, check=True)  # idempotent
    assert cli.list() == [] and cli.listdir("layers") == [] and cli.listdir("blobs", "sha256") == []
    assert cli.listdir("images") == []


def test_two_names_one_image_removed_by_either(cli, registry, images):
    # the same image under two names (CRI: removing one tag removes the image and all tags)
    cli.pull_ok(ref(registry, "multi"), ref(registry, "zstd"))
    st = cli.status(images["multi"].config_digest)
    assert sorted(st["repo_tags"]) == sorted([ref(registry, "multi"), ref(registry, "zstd")])
    assert len(st["repo_digests"]) == 2
    cli.run("rm", ref(registry, "zstd"), check=True)
    assert cli.status(images["multi"].config_digest) is None
    assert cli.status(ref(registry, "multi")) is None
    assert cli.listdir("layers") == []


def test_rootfs_pins_layers_until_released(cli, registry, images, tmp_path):
    (image_id,) = cli.pull_ok(ref(registry, "multi"))
    layers = cli.status(image_id)["layers"]
    target = str(tmp_path / "rootfs")
    cli.run("mount", "c1", image_id, target, check=True)
    try:
        cli.run("rm", image_id, check=True)
        assert cli.status(image_id) is None
        assert cli.listdir("layers") == sorted(l[7:] for l in layers)
        assert os.path.isfile(os.path.join(target, "bin/busybox"))
    finally:
        cli.run("umount", "c1", check=True)
    cli.run("list", check=True)  # the next open collects what nobody uses
    assert cli.listdir("layers") == []


def test_fsinfo(cli, registry):
    before = json.loads(cli.run("fsinfo", check=True).stdout)
    cli.pull_ok(ref(registry, "single"))
    after = json.loads(cli.run("fsinfo", check=True).stdout)
    assert after["images"]["mountpoint"] == cli.root
    assert after["images"]["used_bytes"] > before["images"]["used_bytes"] + 1000000  # busybox
    assert after["images"]["inodes_used"] > before["images"]["inodes_used"]
    assert after["images"]["timestamp"] > 0 and after["containers"]["used_bytes"] >= 0


def test_corrupted_blob_in_registry_is_refused(crix_image, own_registry, images):
    crix_image.registry(own_registry.host, insecure=True)
    layer = images["single"].layers[0]
    path = own_registry.blob_path(layer["digest"])
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    p = crix_image.pull(ref(own_registry, "single"))
    assert p.returncode == 1
    assert "blob %s: downloaded %d bytes with digest" % (layer["digest"], layer["size"]) in p.stderr
    assert crix_image.listdir("layers") == [] and crix_image.listdir("tmp") == []
    assert layer["digest"][7:] not in crix_image.listdir("blobs", "sha256")


def test_lost_layer_is_fetched_again(cli, registry, images):
    """Compressed layer blobs are not kept (the unpacked layer is the data): a layer lost
    from disk is downloaded and unpacked again by the next pull."""
    img = images["single"]
    (image_id,) = cli.pull_ok(ref(registry, "single"))
    assert img.layers[0]["digest"][7:] not in cli.listdir("blobs", "sha256")
    assert img.config_digest[7:] in cli.listdir("blobs", "sha256")
    (chain,) = cli.status(image_id)["layers"]
    subprocess.run(["rm", "-rf", cli.dir("layers", chain[7:])], check=True)
    cli.pull_ok(ref(registry, "single"))
    assert os.path.isfile(cli.dir("layers", chain[7:], "diff", "bin", "busybox"))


def test_layer_with_a_damaged_meta_json_is_replaced(cli, registry, images, tmp_path):
    """A layer whose meta.json does not read is not complete: the next pull unpacks it again
    and puts the new tree in place of the damaged one (which is removed), and the image
    lists and mounts as before. Two pulls of it at once replace it once (job lock)."""
    (image_id,) = cli.pull_ok(ref(registry, "multi"))
    chain = cli.status(image_id)["layers"][0]
    layer = cli.dir("layers", chain[7:])
    good = json.load(open(os.path.join(layer, "meta.json")))
    with open(os.path.join(layer, "meta.json"), "w") as f:
        f.write('{"chain_id": "sha256:')  # cut short, as by a crash before the sync
    os.unlink(os.path.join(layer, "diff", "bin", "busybox"))
    cli.extra = ["--log-level", "warn"]
    p = cli.pull(ref(registry, "multi"), ref(registry, "multi"), check=True)
    assert p.stderr.count("replacing the damaged") == 1, p.stderr
    assert json.load(open(os.path.join(layer, "meta.json"))) == good
    assert os.path.isfile(os.path.join(layer, "diff", "bin", "busybox"))
    assert cli.listdir("tmp") == []
    assert [im["id"] for im in cli.list()] == [image_id]
    assert cli.status(image_id)["layers"][0] == chain
    target = str(tmp_path / "rootfs")
    cli.run("mount", "c1", image_id, target, check=True)
    try:
        assert os.path.isfile(os.path.join(target, "bin/busybox"))
    finally:
        cli.run("umount", "c1", check=True)


def test_complete_layer_is_never_replaced(cli, registry, images):
    """meta.json is what says a layer is complete (written after its tree was synced): a pull
    does not walk every file of every layer it already has, so a file deleted from a complete
    layer's diff/ by hand stays deleted, and the layer's tree is not touched."""
    (image_id,) = cli.pull_ok(ref(registry, "single"))
    (chain,) = cli.status(image_id)["layers"]
    diff = cli.dir("layers", chain[7:], "diff")
    before = os.stat(diff).st_ino
    os.unlink(os.path.join(diff, "bin", "busybox"))
    cli.pull_ok(ref(registry, "single"))
    assert os.stat(diff).st_ino == before
    assert not os.path.exists(os.path.join(diff, "bin", "busybox"))
    assert [im["id"] for im in cli.list()] == [image_id]


def test_config_blob_corrupted_on_disk_is_fetched_again(cli, registry, images):
    img = images["single"]
    cli.pull_ok(ref(registry, "single"))
    cfg = cli.dir("blobs", "sha256", img.config_digest[7:])
    with open(cfg, "r+b") as f:
        f.write(b"garbage")
    cli.extra = ["--log-level", "warn"]
    p = cli.pull(ref(registry, "single"), check=True)
    assert "is corrupted on disk" in p.stderr
    assert testenv.digest(open(cfg, "rb").read()) == img.config_digest


def test_many_layers_exceed_the_mount_option_page(crix_image, tmp_path):
    """150 layers: the lowerdir list is ~16 KiB, more than mount(2)'s one-page option string."""
    reg = testenv.Registry(str(tmp_path / "reg"), str(tmp_path / "storage"))
    try:
        layers = [[testenv.entry("layers", "dir"), testenv.entry("layers/%03d" % i, data=str(i)),
                   testenv.entry("top", data=str(i))] for i in range(150)]
        img = testenv.Image(layers)
        testenv.push(reg.url, "crix/many", "v1", img)
        crix_image.registry(reg.host, insecure=True)
        (image_id,) = crix_image.pull_ok(ref(reg, "many"))
        target = str(tmp_path / "rootfs")
        crix_image.run("mount", "c1", image_id, target, check=True)
        try:
            assert sorted(os.listdir(os.path.join(target, "layers"))) == ["%03d" % i for i in range(150)]
            assert open(os.path.join(target, "top")).read() == "149"  # the top layer wins
        finally:
            crix_image.run("umount", "c1", check=True)
    finally:
        reg.stop()


def crix_image_cmd(cli, *args):
    return [os.path.join(BUILD, "bin", "crix-image"), "--root", cli.root, "--config", cli.config,
            "--certs-dir", cli.certs] + list(args)


def test_layer_tree_is_synced_before_the_meta_json_that_publishes_it(cli, registry, tmp_path):
    """A power cut must not leave a layer whose meta.json says it is complete over a tree that
    is not on disk: its tree is synced (syncfs) before meta.json is renamed into place, and the
    layers directory is synced after the layer is renamed into it (before the record)."""
    trace = str(tmp_path / "trace")
    p = subprocess.run(["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=syncfs,fsync,rename,renameat,renameat2"]
                       + crix_image_cmd(cli, "pull", ref(registry, "multi")), capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))  # no LSan under ptrace
    assert p.returncode == 0 and "Sanitizer" not in p.stderr, p.stderr
    lines = open(trace).read().splitlines()
    tmp, layers = cli.dir("tmp"), cli.dir("layers")
    synced, metas, published, dir_syncs = {}, {}, {}, []
    for i, line in enumerate(lines):
        m = re.search(r"syncfs\(\d+<%s/(layer-[^/>]+)/diff>" % re.escape(tmp), line)
        if m:
            synced.setdefault(m.group(1), i)
        m = re.search(r'rename\w*\(.*"%s/(layer-[^/"]+)/meta\.json\.tmp[^"]*", .*"%s/\1/meta\.json"'
                      % (re.escape(tmp), re.escape(tmp)), line)
        if m:
            metas[m.group(1)] = i
        m = re.search(r'rename\w*\(.*"%s/(layer-[^/"]+)", .*"%s/[0-9a-f]{64}"' % (re.escape(tmp), re.escape(layers)),
                      line)
        if m:
            published[m.group(1)] = i
        if re.search(r"fsync\(\d+<%s>[) ]" % re.escape(layers), line):  # ") = 0" or " <unfinished ...>"
            dir_syncs.append(i)
    assert len(metas) == 3 and sorted(published) == sorted(metas), "\n".join(lines)
    for layer, at in metas.items():
        assert synced.get(layer, at) < at, "%s: meta.json renamed before its tree was synced" % layer
        assert any(d > published[layer] for d in dir_syncs), "%s: layers/ not synced after the rename" % layer


# What crix-pull keeps of root: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, MKNOD, SETFCAP (its owner
# marks opaque directories: trusted.* needs CAP_SYS_ADMIN). A layer's trusted.* and security.*
# xattrs (but security.capability) are not kept.
UNPACK_CAPS = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 4) | (1 << 27) | (1 << 31)
FILE_CAP = struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0)  # cap_net_bind_service+ep


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def child_named(ppid, name):
    for d in os.listdir("/proc"):
        try:
            st = proc_status(int(d)) if d.isdigit() else {}
        except OSError:
            continue
        if st.get("Name") == name and st.get("PPid") == str(ppid):
            return int(d)
    return None


def test_crix_pull_has_no_new_privs_and_only_the_capabilities_unpacking_needs(crix_image, tmp_path):
    entries = [testenv.entry("dev", "dir"), testenv.entry("dev/null", "chardev", dev=(1, 3)),
               testenv.entry("bin", "dir"), testenv.entry("bin/setid", data="x", mode=0o6755, uid=1000, gid=1000),
               testenv.entry("bin/ping", data="ping", mode=0o755,
                             xattrs={"security.capability": FILE_CAP, "user.note": b"kept",
                                     "trusted.crix-test": b"fs-private", "security.selinux": b"host_label_t"}),
               testenv.entry("opq", "dir"), testenv.entry("opq/.wh..wh..opq"),
               testenv.entry("big", data=os.urandom(384 << 10))]
    reg = testenv.Registry(str(tmp_path / "reg"), str(tmp_path / "storage"))
    slow = None
    try:
        testenv.push(reg.url, "crix/special", "v1", testenv.Image([entries]))
        slow = testenv.FakeRegistry("slow", upstream=reg.url, rate=64 << 10)
        crix_image.registry(slow.host, insecure=True)
        proc = subprocess.Popen(crix_image_cmd(crix_image, "pull", ref(slow, "special")), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        def downloading():
            """crix-pull's status once it asked the registry (it drops privileges before it
            reads its request); the slow layer download keeps it running."""
            pid = child_named(proc.pid, "crix-pull") if slow.paths else None
            try:
                return pid and proc_status(pid)
            except OSError:
                return None

        try:
            st = wait_for(downloading, timeout=60, what="crix-pull downloading")
        finally:
            out, errors = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "Sanitizer" not in errors, errors
    finally:
        if slow:
            slow.stop()
        reg.stop()
    assert st["NoNewPrivs"] == "1"
    for caps in ("CapEff", "CapPrm", "CapBnd"):
        assert int(st[caps], 16) == UNPACK_CAPS, (caps, st[caps])
    assert int(st["CapInh"], 16) == int(st["CapAmb"], 16) == 0
    # and unpacking still does all it did with every capability
    (image_id,) = out.split()
    (chain,) = crix_image.status(image_id)["layers"]
    diff = crix_image.dir("layers", chain[7:], "diff")
    dev = os.lstat(os.path.join(diff, "dev/null"))
    assert stat.S_ISCHR(dev.st_mode) and (os.major(dev.st_rdev), os.minor(dev.st_rdev)) == (1, 3)
    setid = os.lstat(os.path.join(diff, "bin/setid"))
    assert (stat.S_IMODE(setid.st_mode), setid.st_uid, setid.st_gid) == (0o6755, 1000, 1000)
    assert os.getxattr(os.path.join(diff, "bin/ping"), "security.capability") == FILE_CAP
    assert os.getxattr(os.path.join(diff, "bin/ping"), "user.note") == b"kept"
    for name in ("trusted.crix-test", "security.selinux"):  # the filesystem's and the build host's
        with pytest.raises(OSError):
            os.getxattr(os.path.join(diff, "bin/ping"), name)
    assert os.getxattr(os.path.join(diff, "opq"), "trusted.overlay.opaque") == b"y"


def test_registry_error_text_does_not_decide_what_the_error_is(crix_image, registry, images):
    """Errors are told apart by their kind, not by their text: a registry whose error message
    reads like the unpacker's still gives an error about the blob it failed to serve."""
    layer = images["single"].layers[0]["digest"]
    fake = testenv.FakeRegistry("blobstatus", upstream=registry.url, status=404, blob=layer,
                                message='layer entry "etc/passwd": refused')
    try:
        crix_image.registry(fake.host, insecure=True)
        p = crix_image.pull(ref(fake, "single"))
    finally:
        fake.stop()
    assert p.returncode == 1
    assert 'pull %s: blob %s: layer entry "etc/passwd": refused (404)' % (ref(fake, "single"), layer) in p.stderr
