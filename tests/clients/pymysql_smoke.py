"""pymysql against a running Basalt: connect, create, insert, select, DECIMAL metadata.
Prints one line per check; the Rust test asserts on them."""
import sys
import pymysql

port = int(sys.argv[1])
conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True)
cur = conn.cursor()
cur.execute("CREATE DATABASE py_db")
cur.execute("USE py_db")
cur.execute("CREATE TABLE t (id INT, name VARCHAR(20), price DECIMAL(10,2)) DISTRIBUTED BY HASH(id) BUCKETS 2")
n = cur.execute("INSERT INTO t VALUES (%s, %s, %s), (%s, %s, %s)", (1, "a'b", "1.50", 2, None, "20.25"))
print("inserted", n)
cur.execute("SELECT id, name, price FROM t ORDER BY id")
print("rows", cur.fetchall())
price = cur.description[2]
print("decimal", price[0], price[5])
# DECIMAL reads back as decimal.Decimal with every digit; LARGEINT comes as a
# string (as Doris sends it) that holds the exact 128-bit integer.
import decimal
cur.execute("CREATE TABLE n (id INT, d DECIMAL(27,9), l LARGEINT) DISTRIBUTED BY HASH(id) BUCKETS 1")
d = decimal.Decimal("123456789012345678.123456789")
cur.execute("INSERT INTO n VALUES (%s, %s, %s), (%s, %s, %s)", (1, d, 2**127 - 1, 2, -d, -2**127))
cur.execute("SELECT d, l FROM n ORDER BY id")
rows = cur.fetchall()
print("exact", all(r[0] == v for r, v in zip(rows, (d, -d))), [int(r[1]) == v for r, v in zip(rows, (2**127 - 1, -2**127))], [type(x).__name__ for x in rows[0]])
cur.execute("SELECT @@version_comment")
print("comment", cur.fetchone()[0])
try:
    cur.execute("SELECT * FROM nope")
except pymysql.err.ProgrammingError as e:
    print("error", e.args[0])
conn.close()
