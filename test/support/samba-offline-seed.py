# Adds an LDIF to a provisioned but stopped Samba AD DC's database with Samba's own library,
# in one transaction: each add goes through the same module stack (objectGUID, SIDs, password
# hashing, linked attributes) as an LDAP add, without a round trip, a TLS record and a
# transaction commit per entry.
#
# /usr/bin/python3 samba-offline-seed.py SMB_CONF SAM_LDB LDIF
import sys

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

smb_conf, sam_ldb, ldif = sys.argv[1:4]
lp = LoadParm()
lp.load(smb_conf)
db = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)
with open(ldif, encoding="utf-8") as f:
    text = f.read()
added = 0
db.transaction_start()
try:
    for _changetype, message in db.parse_ldif(text):
        try:
            db.add(message)
        except Exception as error:
            raise SystemExit(f"seeding failed at {message.dn}: {error}")
        added += 1
    db.transaction_commit()
except BaseException:
    db.transaction_cancel()
    raise
print(f"{added} entries added")
