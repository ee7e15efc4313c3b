"""Real PostgreSQL and MariaDB servers started on 127.0.0.1 in a temporary directory, for the rotation
tests and `kms-steward bench rotation`: the rotators are proven against the databases themselves, not
against a stand-in.

Each server gets a free port, its own data directory, socket and log under one temporary directory,
an administrator account with a password (used over TCP, as a rotation function reaches a database),
and a self-signed TLS certificate for 127.0.0.1 so that `"ssl": true` secrets are tested over TLS.
`stop()` shuts the server down and removes the directory.

PostgreSQL refuses to run as root ("initdb: cannot be run as root", PostgreSQL docs "Creating a
Database Cluster"), so as root both initdb and the server run as the `postgres` system user the Debian
package creates (else `nobody`). mariadbd runs as root only when told `--user=root` ("Running mysqld as
root", MariaDB docs "mariadbd Options"), which is what is done here.

Binaries: Debian's `postgresql` (initdb and postgres under /usr/lib/postgresql/<major>/bin) and
`mariadb-server` (mariadb-install-db, mariadbd). `missing_binaries()` says what is not installed.
"""
from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ADMIN_USER = "steward_admin"
DBNAME = "appdb"
START_TIMEOUT_S = 60
# PostgreSQL logins that the server accepts over TLS only (pg_hba.conf "hostssl"; MariaDB: REQUIRE SSL, set per user).
TLS_USERS = ("tls_app", "tls_app_rt")


class DatabaseServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's server binaries (Debian keeps them out of PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    return Path(found).parent if found and shutil.which("initdb") else None


def _mariadb_binaries() -> tuple[str, str] | None:
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or shutil.which("mysqld") or next(
        (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if os.access(p, os.X_OK)), None)
    return (install, server) if install and server else None


def missing_binaries(engine: str) -> str | None:
    """Why a server of this engine cannot be started here, or None."""
    if engine == "postgresql":
        return None if _postgres_bin_dir() else "PostgreSQL server binaries (initdb, postgres) not found: apt-get install postgresql"
    if engine == "mysql":
        return None if _mariadb_binaries() else "MariaDB server binaries (mariadb-install-db, mariadbd) not found: " \
                                                "apt-get install mariadb-server"
    raise ValueError(engine)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path, str]:
    """A certificate for 127.0.0.1 / localhost and its key (files), and the certificate's PEM text (the CA
    a client trusts: it is self-signed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file, pem.decode()


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DatabaseServerError(f"the server exited with {proc.returncode}; its log ({log}):\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise DatabaseServerError(f"the server did not listen on port {port} within {START_TIMEOUT_S}s; its log:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class DatabaseServer:
    """A running server: where it listens and its administrator's login (a superuser)."""

    engine: str  # "postgresql" or "mysql" (MariaDB)
    port: int
    admin_user: str
    admin_password: str = field(repr=False)
    dbname: str = ""
    tls_ca_pem: str = field(default="", repr=False)
    directory: Path = Path()
    host: str = "127.0.0.1"
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _stop_command: list[str] | None = field(default=None, repr=False)
    _run_as: str | None = field(default=None, repr=False)

    def secret_value(self, username: str, password: str, **extra) -> dict:
        """The JSON a rotated secret holds for a login on this server (README "Secret rotation")."""
        return {"engine": "postgresql" if self.engine == "postgresql" else "mariadb", "host": self.host, "port": self.port,
                "username": username, "password": password, "dbname": self.dbname, **extra}

    def admin_value(self) -> dict:
        return self.secret_value(self.admin_user, self.admin_password)

    def stop(self) -> None:
        try:
            if self._stop_command:
                subprocess.run(self._stop_command, capture_output=True, timeout=60, user=self._run_as)
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _kill(proc: subprocess.Popen | None) -> None:
    """A server that started but failed to come up whole is ended (it is ours: we started it)."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def _unprivileged_user() -> str | None:
    """Who runs PostgreSQL when this process is root (None when not root: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise DatabaseServerError("running as root and neither a postgres nor a nobody user exists to run PostgreSQL")


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def start_postgresql() -> DatabaseServer:
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        raise DatabaseServerError(missing_binaries("postgresql"))
    run_as = _unprivileged_user()
    directory = Path(tempfile.mkdtemp(prefix="kms-steward-pg-"))
    data, log = directory / "data", directory / "server.log"
    password = secrets.token_urlsafe(24)
    pwfile = directory / "pwfile"
    pwfile.write_text(password + "\n")
    cert, key, pem = _self_signed_certificate(directory)
    _chown_tree(directory, run_as)
    port = free_port()
    try:
        init = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "--username", ADMIN_USER, "--pwfile", str(pwfile),
                               "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-sync"],
                              capture_output=True, text=True, timeout=120, user=run_as)
        if init.returncode != 0:
            raise DatabaseServerError(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
        pwfile.unlink()
        # Password logins over TCP only. The TLS_USERS may log in over TLS only (the "ssl": true secrets).
        tls_users = ",".join(TLS_USERS)
        (data / "pg_hba.conf").write_text(
            f"hostssl all {tls_users} 127.0.0.1/32 scram-sha-256\n"
            f"host    all {tls_users} 127.0.0.1/32 reject\n"
            "host    all all 127.0.0.1/32 scram-sha-256\n")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{directory}'\n"
                       f"ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\nfsync = off\n"
                       "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n")
        _chown_tree(directory, run_as)
        proc = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data)], stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                user=run_as, start_new_session=True)
        server = DatabaseServer("postgresql", port, ADMIN_USER, password, "postgres", pem, directory, _process=proc,
                                _stop_command=[str(bin_dir / "pg_ctl"), "-D", str(data), "stop", "-m", "fast", "-w"],
                                _run_as=run_as)
        _wait_for_port(port, proc, log)
        _wait_for_login(server)
        _postgres_admin_sql(server, f"CREATE DATABASE {DBNAME}")
        server.dbname = DBNAME
        return server
    except BaseException:
        _kill(locals().get("proc"))
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _postgres_admin_sql(server: DatabaseServer, sql: str) -> None:
    import pg8000.native

    conn = pg8000.native.Connection(server.admin_user, host=server.host, port=server.port, password=server.admin_password,
                                    database=server.dbname, timeout=30)
    try:
        conn.run(sql)
    finally:
        conn.close()


def _wait_for_login(server: DatabaseServer) -> None:
    """The port opens before the server accepts logins (PostgreSQL: "the database system is starting up")."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if server.engine == "postgresql":
                _postgres_admin_sql(server, "SELECT 1")
            else:
                _mariadb_admin_connect(server).close()
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.2)
    raise DatabaseServerError(f"the {server.engine} server never accepted the administrator's login: {type(last).__name__}")


def _mariadb_admin_connect(server: DatabaseServer):
    import pymysql

    return pymysql.connect(host=server.host, port=server.port, user=server.admin_user, password=server.admin_password,
                           database=server.dbname, connect_timeout=10, autocommit=True)


def start_mariadb() -> DatabaseServer:
    binaries = _mariadb_binaries()
    if binaries is None:
        raise DatabaseServerError(missing_binaries("mysql"))
    install, mariadbd = binaries
    directory = Path(tempfile.mkdtemp(prefix="kms-steward-mariadb-"))
    data, log, sock = directory / "data", directory / "server.log", directory / "mysqld.sock"
    user = pwd.getpwuid(os.geteuid()).pw_name
    cert, key, pem = _self_signed_certificate(directory)
    port = free_port()
    common = ["--no-defaults"]
    try:
        init = subprocess.run([install, *common, f"--datadir={data}", f"--user={user}", "--auth-root-authentication-method=normal",
                               "--skip-test-db"], capture_output=True, text=True, timeout=180)
        if init.returncode != 0:
            raise DatabaseServerError(f"mariadb-install-db failed ({init.returncode}): {(init.stderr or init.stdout)[-2000:]}")
        proc = subprocess.Popen([mariadbd, *common, f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                                 "--bind-address=127.0.0.1", f"--user={user}", f"--pid-file={directory / 'mysqld.pid'}",
                                 f"--log-error={log}", "--skip-name-resolve", f"--ssl-cert={cert}", f"--ssl-key={key}",
                                 "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin", "--max-connections=300"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_for_port(port, proc, log)
        import pymysql

        password = secrets.token_urlsafe(24)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                root = pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=10, autocommit=True)
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise DatabaseServerError(f"MariaDB never accepted root on its socket; its log:\n{_tail(log)}") from None
                time.sleep(0.2)
        with root.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DBNAME}")
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (ADMIN_USER, password))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (ADMIN_USER,))
        root.close()
        server = DatabaseServer("mysql", port, ADMIN_USER, password, DBNAME, pem, directory, _process=proc)
        _wait_for_login(server)
        return server
    except BaseException:
        _kill(locals().get("proc"))
        shutil.rmtree(directory, ignore_errors=True)
        raise


def start(engine: str) -> DatabaseServer:
    return start_postgresql() if engine == "postgresql" else start_mariadb()
