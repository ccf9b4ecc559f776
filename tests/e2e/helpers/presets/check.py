# For the python3 preset: run as `python3.13 -c "$(cat check.py)"`.
import ctypes
import ctypes.util
import datetime
import os
import sqlite3
import ssl
import subprocess
import tempfile
import zoneinfo

print("hello")
print("sqlite3", sqlite3.connect(":memory:").execute("select 1 + 1").fetchone()[0])
print("ssl", ssl.OPENSSL_VERSION.split()[0], len(ssl.create_default_context().get_ca_certs()) > 100)
libc = ctypes.util.find_library("c")
print("find_library", libc)
print("ctypes", ctypes.CDLL(libc).abs(-7) if libc else None)
paris = datetime.datetime(2024, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
print("zoneinfo", paris.utcoffset())
try:
    r = subprocess.run("true", shell=True)
    # (under qemu-user, a failed exec in the child shows as exit 127)
    print("shell ran, exit", r.returncode)
except FileNotFoundError as e:
    print("no shell:", e.filename)
print("/bin/sh exists:", os.path.lexists("/bin/sh"))
print("uid", os.getuid(), "cwd", os.getcwd())
home = os.path.expanduser("~")
with open(os.path.join(home, ".written"), "w") as f:
    f.write("x")
with tempfile.NamedTemporaryFile(dir="/tmp") as f:
    f.write(b"x")
print("writable", home, "/tmp")
