# Adds an LDIF to a provisioned but stopped Samba AD DC's database with Samba's own library:
# each add goes through the same module stack (objectGUID, SIDs, password hashing, linked
# attributes) as an LDAP add, without a round trip or a TLS record per entry.
#
# The LDIF is parsed a batch of entries at a time, and each batch is one transaction: parsed
# whole, 100,000 entries held over a GB and left malloc so fragmented that every later add
# spent most of its time in it. And the database is opened in ldb's batch mode, which drops
# the sub-transaction ldb wraps around each add: committing one copies every index list the
# add touched into the transaction, and the lists of a value every user shares (objectClass
# user, the OU's children) grow with the directory, so without it the seed is quadratic
# (30,000 users: 279 s, 44 s in batch mode; the cost per add then stays nearly flat). Batch
# mode gives up undoing a failed add on its own, which a seed does not need: the database is
# a provisioning work copy, thrown away if the seed fails.
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
db = SamDB(url=sam_ldb, session_info=system_session(), lp=lp, options=["batch_mode:1"])


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
