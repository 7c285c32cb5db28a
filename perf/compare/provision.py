#!/usr/bin/python3
"""Writes Prosody's internal storage for the population of `xmesh-loadgen gen-population`.

CSV line: username,scram1:ITER:SALT:SHA1_STORED:SHA1_SERVER:SHA256_STORED:SHA256_SERVER,contacts
(base64 fields, contacts `;`-separated bare JIDs). Prosody 0.12 internal_hashed keeps
per user data/<host>/accounts/<user>.dat = {stored_key = hex, server_key = hex,
salt = raw bytes, iteration_count = n} (mod_auth_internal_hashed.lua), and the roster in
data/<host>/roster/<user>.dat = {[false] = {version, pending}, [jid] = {subscription,
groups}} (core/rostermanager.lua). The same salt and keys as xmesh and ejabberd, so the
load generator's salted-password cache hits for all three servers.

usage: provision.py prosody CSV DATA_DIR DOMAIN
"""
import base64
import os
import sys


def lua_str(b: bytes) -> str:
    # Lua decimal escapes for anything outside plain printable ASCII.
    out = []
    for c in b:
        if 32 <= c < 127 and c not in (34, 92):
            out.append(chr(c))
        else:
            out.append("\\%03d" % c)
    return '"' + "".join(out) + '"'


def encode_path(s: str) -> str:
    # util/datamanager.lua encode(): every non-alphanumeric byte becomes %xx.
    return "".join(ch if ch.isalnum() and ch.isascii() else "%%%02x" % ord(ch) for ch in s)


def rows(csv):
    with open(csv, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            user, rest = line.split(",", 1)
            secret, contacts = rest.rsplit(",", 1)
            f_ = secret.split(":")
            assert f_[0] == "scram1", "unknown secret format: " + f_[0]
            yield user, int(f_[1]), base64.b64decode(f_[2]), base64.b64decode(f_[3]), \
                base64.b64decode(f_[4]), [c for c in contacts.split(";") if c]


def prosody(csv, data_dir, domain):
    host = os.path.join(data_dir, encode_path(domain))
    acc, ros = os.path.join(host, "accounts"), os.path.join(host, "roster")
    os.makedirs(acc, exist_ok=True)
    os.makedirs(ros, exist_ok=True)
    users = items = 0
    for user, it, salt, stored, server, contacts in rows(csv):
        with open(os.path.join(acc, encode_path(user) + ".dat"), "w") as f:
            f.write('return {\n\t["iteration_count"] = %d;\n\t["salt"] = %s;\n'
                    '\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n};\n'
                    % (it, lua_str(salt), stored.hex(), server.hex()))
        parts = ['return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n']
        for c in contacts:
            parts.append('\t[%s] = {\n\t\t["subscription"] = "both";\n\t\t["groups"] = {};\n\t};\n'
                         % lua_str(c.encode()))
        parts.append("};\n")
        with open(os.path.join(ros, encode_path(user) + ".dat"), "w") as f:
            f.write("".join(parts))
        users += 1
        items += len(contacts)
    print("prosody: %d users, %d roster items in %s" % (users, items, host))


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "prosody":
        sys.exit(__doc__)
    prosody(sys.argv[2], sys.argv[3], sys.argv[4])
