# Adds an LDIF to a provisioned but stopped Samba AD DC's database with Samba's own library:
# each add goes through the same module stack (objectGUID, SIDs, password hashing, linked
# attributes) as an LDAP add, without a round trip or a TLS record per entry.
#
# The LDIF is parsed a batch of entries at a time, and each batch is one transaction. Parsing
# 100,000 entries at once holds them all (over a GB) and leaves malloc so fragmented that
# every later add spends most of its time in it: the seed slows down as it goes. Batches keep
# the heap small and the cost per add flat. The database is a provisioning work copy that is
# thrown away if the seed fails, so a batch committed before a failure harms nothing.
#
# /usr/bin/python3 samba-offline-seed.py SMB_CONF SAM_LDB LDIF
import sys
import time

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

BATCH = 500

smb_conf, sam_ldb, ldif = sys.argv[1:4]
lp = LoadParm()
lp.load(smb_conf)
db = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)


def records(path):
    """The LDIF's entries, one text each (entries are separated by blank lines, RFC 2849)."""
    entry = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() == "":
                if entry:
                    yield "".join(entry)
                    entry = []
            elif not (not entry and line.startswith("version:")):
                entry.append(line)
    if entry:
        yield "".join(entry)


added = 0
started = time.monotonic()


def add_batch(batch):
    global added
    db.transaction_start()
    try:
        for _changetype, message in db.parse_ldif("\n".join(batch)):
            try:
                db.add(message)
            except Exception as error:
                raise SystemExit(f"seeding failed at {message.dn}: {error}")
            added += 1
        db.transaction_commit()
    except BaseException:
        db.transaction_cancel()
        raise
    if added % 10000 < BATCH:
        print(f"{added} entries added ({time.monotonic() - started:.0f} s)", flush=True)


batch = []
for text in records(ldif):
    batch.append(text)
    if len(batch) == BATCH:
        add_batch(batch)
        batch = []
if batch:
    add_batch(batch)
print(f"{added} entries added")
