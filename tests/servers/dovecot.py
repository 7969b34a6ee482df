"""A real IMAP server, Debian's dovecot 2.3, for reading replies to our alert e-mails.

Installed by `scripts/install-servers.sh` (apt-get dovecot-imapd) and never run as the system
service: `dovecot -F -c <private config>` is started here, in the foreground so its PID is the
one we stop, on free ports of 127.0.0.1: IMAPS (TLS from the first byte) and IMAP with
STARTTLS. One user in a passwd-file, its mail in a Maildir, a self-signed certificate for
127.0.0.1 that the tests give the reader as its CA, so certificate verification stays on.

Dovecot runs every process as the user that starts it, except that it refuses root for its
login and mail processes: when the tests run as root (CI does), the server runs as Debian's
unprivileged `dovecot` user (setpriv), in a folder of that user's outside pytest's 0700
temporary tree, which that user could not enter. Messages are put in the mailbox with APPEND
over IMAP (stdlib imaplib, not the library under test), with the arrival time a delivery
would give them (INTERNALDATE).
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from . import free_port, wait_for
from .smtp import make_certificate

DOVECOT = Path("/usr/sbin/dovecot")
#: Debian's unprivileged user for dovecot, used when the tests run as root.
SYSTEM_USER = "dovecot"


def _config(folder: Path, user: str, group: str, uid: int, gid: int, imaps: int, imap: int) -> str:
    return f"""\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{folder}/smtp-cert.pem
ssl_key = <{folder}/smtp-key.pem
ssl_min_protocol = TLSv1.2
default_internal_user = {user}
default_login_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
first_valid_gid = {gid}
auth_mechanisms = plain login
# a wrong password is answered at once: the tests check it, nobody brute-forces a test server
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service auth {{
  chroot =
}}
service anvil {{
  chroot =
  # no auth penalty (a doubling wait after each failure, per IP): the wrong-password test
  # must not slow every later login of the session; with this socket closed, dovecot skips it
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  chroot =
}}
"""


class Dovecot:
    """One running server; `port` is IMAPS, `starttls_port` IMAP with STARTTLS."""

    user = "alertes@prefecture.test"
    #: a second user whose password is not ASCII (IMAP LOGIN cannot carry it; SASL PLAIN can)
    utf8_user = "citoyens@prefecture.test"

    def __init__(self) -> None:
        if not DOVECOT.exists():
            raise RuntimeError(f"dovecot is not installed ({DOVECOT}): run scripts/install-servers.sh")
        self.password = secrets.token_urlsafe(12)
        self.utf8_password = "mot-de-passe-é-" + secrets.token_hex(4)
        self.folder = Path(tempfile.mkdtemp(prefix="alertcast-dovecot-"))
        self.port, self.starttls_port = free_port(), free_port()
        self.cert = self.folder / "smtp-cert.pem"
        self.log = self.folder / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        folder = self.folder
        make_certificate(folder)
        for sub in ("run", "state", "home"):
            (folder / sub).mkdir()
        (folder / "users").write_text(
            f"{self.user}:{{PLAIN}}{self.password}::::::\n"
            f"{self.utf8_user}:{{PLAIN}}{self.utf8_password}::::::\n",
            encoding="utf-8",
        )
        command = [str(DOVECOT), "-F", "-c", str(folder / "dovecot.conf")]
        if os.geteuid() == 0:
            account = pwd.getpwnam(SYSTEM_USER)
            uid, gid = account.pw_uid, account.pw_gid
            command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]
        else:
            uid, gid = os.getuid(), os.getgid()
        user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
        (folder / "dovecot.conf").write_text(
            _config(folder, user, group, uid, gid, self.port, self.starttls_port)
        )
        if os.geteuid() == 0:
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, uid, gid)
        with (folder / "stdout.log").open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        wait_for(self._answers, timeout=30, what=self._why_not_ready)

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"dovecot exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=self.context(), timeout=2).logout()
        except OSError:
            return False
        return True

    def _why_not_ready(self) -> str:
        return f"dovecot on 127.0.0.1:{self.port} to greet over TLS; log:\n{self.log_tail()}"

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("stdout.log", "dovecot.log"):
            with contextlib.suppress(OSError):
                text += (self.folder / name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:]) or "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- what tests do in the mailbox, as a mail client would --------------------------------

    def _session(self) -> imaplib.IMAP4_SSL:
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=self.context(), timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, mailbox: str = "INBOX", arrived: datetime | None = None) -> int:
        """Drop a message into `mailbox` as a delivery would; returns its UID."""
        client = self._session()
        try:
            when = imaplib.Time2Internaldate(arrived) if arrived else None
            status, data = client.append(mailbox, None, when, raw)
            assert status == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert found, data
            return int(found.group(1))
        finally:
            client.logout()

    def create(self, mailbox: str) -> None:
        client = self._session()
        try:
            status, data = client.create(mailbox)
            assert status == "OK", data
        finally:
            client.logout()

    def recreate(self, mailbox: str) -> None:
        """Delete and create `mailbox` again: its messages gone, a new UIDVALIDITY."""
        client = self._session()
        try:
            status, data = client.delete(mailbox)
            assert status == "OK", data
            status, data = client.create(mailbox)
            assert status == "OK", data
        finally:
            client.logout()

    def uidvalidity(self, mailbox: str) -> int:
        client = self._session()
        try:
            status, data = client.status(mailbox, "(UIDVALIDITY)")
            assert status == "OK", data
            found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            assert found, data
            return int(found.group(1))
        finally:
            client.logout()
