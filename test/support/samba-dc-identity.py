# Gives a stopped Samba AD DC's database the identity a restore from backup gives a DC: a
# new invocationId on its NTDS Settings (MS-ADTS 3.1.1.1.9: USNs it gives out after that
# mean nothing against positions read before). With a server name, also renames its server
# object, so that rootDSE's dsServiceName (which Samba keeps as a reference to the NTDS
# Settings object, not as text) names another DC: a second DC holding the same objects.
#
# /usr/bin/python3 samba-dc-identity.py SMB_CONF SAM_LDB [SERVER_NAME]
import sys
import uuid

import ldb
from samba.auth import system_session
from samba.dcerpc import misc
from samba.ndr import ndr_pack
from samba.param import LoadParm
from samba.samdb import SamDB

smb_conf, sam_ldb = sys.argv[1:3]
server_name = sys.argv[3] if len(sys.argv) > 3 else None
lp = LoadParm()
lp.load(smb_conf)
db = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)
settings = ldb.Dn(db, str(db.search(base="", scope=ldb.SCOPE_BASE, attrs=["dsServiceName"])[0]["dsServiceName"][0]))
message = ldb.Message()
message.dn = settings
message["invocationId"] = ldb.MessageElement(ndr_pack(misc.GUID(str(uuid.uuid4()))), ldb.FLAG_MOD_REPLACE, "invocationId")
# invocationId is system-only: the relax control lets the system session write it.
db.modify(message, controls=["relax:0"])
if server_name is not None:
    server = settings.parent()
    renamed = server.parent()
    renamed.add_child(f"CN={server_name}")
    db.rename(server, renamed, controls=["relax:0"])
print(str(db.search(base="", scope=ldb.SCOPE_BASE, attrs=["dsServiceName"])[0]["dsServiceName"][0]))
