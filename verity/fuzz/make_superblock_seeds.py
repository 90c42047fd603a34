#!/usr/bin/env python3
# Writes the seed inputs of superblock_fuzz (see superblock_fuzz.cpp for the
# input layout): small images with a veritysetup-format superblock and tree
# after the data, 512 B blocks so that they stay a few KiB. Rerun it to
# regenerate superblock_seeds/ if the layout of the input changes.
import hashlib, os, struct, uuid

def superblock(dbs, hbs, blocks, salt, alg=b"sha256", hash_type=1):
    sb = b"verity\0\0" + struct.pack("<II", 1, hash_type) + uuid.UUID(int=1).bytes
    sb += alg.ljust(32, b"\0") + struct.pack("<IIQH", dbs, hbs, blocks, len(salt)) + b"\0" * 6
    sb += salt.ljust(256, b"\0")
    return sb.ljust(512, b"\0")

def tree(data, dbs, hbs, salt):
    # Levels bottom-up, each as zero-padded hash blocks; on disk the top first.
    per = hbs // 32
    blocks = [data[i:i + dbs] for i in range(0, len(data), dbs)]
    levels = []
    while len(blocks) > 1:
        hashes = [hashlib.sha256(salt + b).digest() for b in blocks]
        level = b"".join(b"".join(hashes[i:i + per]).ljust(hbs, b"\0") for i in range(0, len(hashes), per))
        levels.append(level)
        blocks = [level[i:i + hbs] for i in range(0, len(level), hbs)]
    return b"".join(reversed(levels))

def seed(name, blocks, dbs=512, hbs=512, salt=b"\x5a" * 8, flags=0, **kw):
    data = bytes((i * 7 + 3) & 0xff for i in range(blocks * dbs))
    sb = superblock(dbs, hbs, blocks, salt, **kw).ljust(max(512, hbs), b"\0")
    image = data + sb + tree(data, dbs, hbs, salt)
    head = struct.pack("<Q", len(data)) + bytes([flags])
    with open(os.path.join(os.path.dirname(__file__), "superblock_seeds", name), "wb") as f:
        f.write(head + image)

seed("one_level", 4)
seed("two_levels", 20)
seed("separate_tree", 4, flags=1)
seed("one_block", 1)
seed("no_salt", 8, salt=b"")
seed("hash_type_0", 4, hash_type=0)
seed("big_hash_block", 2, dbs=512, hbs=1024)
