# Lets an account list the tombstones in a stopped Samba AD DC's domain: List Contents and
# Read Property on CN=Deleted Objects, which AD and Samba give only to SYSTEM and the
# Administrators by default. It is the grant an AD administrator makes with
# `dsacls "CN=Deleted Objects,DC=…" /takeownership` then `/G DOMAIN\account:LCRP`.
#
# /usr/bin/python3 samba-grant-deleted-objects.py SMB_CONF SAM_LDB ACCOUNT_DN
import sys

import ldb
from samba.auth import system_session
from samba.dcerpc import security
from samba.ndr import ndr_pack, ndr_unpack
from samba.param import LoadParm
from samba.samdb import SamDB

smb_conf, sam_ldb, account_dn = sys.argv[1:4]
lp = LoadParm()
lp.load(smb_conf)
db = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)
sid = str(ndr_unpack(security.dom_sid, db.search(base=account_dn, scope=ldb.SCOPE_BASE, attrs=["objectSid"])[0]["objectSid"][0]))
container = f"CN=Deleted Objects,{db.domain_dn()}"
# The container is itself deleted: only the Show Deleted control finds it; sd_flags 4 is its DACL alone.
controls = ["show_deleted:1", "sd_flags:1:4"]
found = db.search(base=container, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"], controls=controls)
descriptor = ndr_unpack(security.descriptor, found[0]["nTSecurityDescriptor"][0])
descriptor.dacl_add(security.descriptor.from_sddl(f"D:(A;;LCRP;;;{sid})", security.dom_sid(sid)).dacl.aces[0])
message = ldb.Message()
message.dn = ldb.Dn(db, container)
message["nTSecurityDescriptor"] = ldb.MessageElement(ndr_pack(descriptor), ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor")
db.modify(message, controls=controls)
print(descriptor.as_sddl())
