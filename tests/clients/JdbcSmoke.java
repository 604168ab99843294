// JDBC through Debian's MariaDB Connector/J, text and server-side prepared statements.
// Prints one line per check; the Rust test asserts on them.
import java.sql.*;

public class JdbcSmoke {
    public static void main(String[] args) throws Exception {
        String port = args[0];
        for (String mode : new String[] {"false", "true"}) {
            String url = "jdbc:mariadb://127.0.0.1:" + port + "/?user=root&useServerPrepStmts=" + mode;
            try (Connection c = DriverManager.getConnection(url)) {
                String db = "jdbc_" + (mode.equals("true") ? "ps" : "text");
                try (Statement s = c.createStatement()) {
                    s.execute("CREATE DATABASE " + db);
                    s.execute("USE " + db);
                    s.execute("CREATE TABLE t (id INT, price DECIMAL(10,2), d DATE) DISTRIBUTED BY HASH(id) BUCKETS 1");
                }
                try (PreparedStatement p = c.prepareStatement("INSERT INTO t VALUES (?, ?, ?)")) {
                    p.setInt(1, 7);
                    p.setBigDecimal(2, new java.math.BigDecimal("12.34"));
                    p.setDate(3, Date.valueOf("2024-05-06"));
                    System.out.println(mode + " inserted " + p.executeUpdate());
                }
                try (PreparedStatement p = c.prepareStatement("SELECT id, price, d FROM t WHERE id = ?")) {
                    p.setInt(1, 7);
                    try (ResultSet rs = p.executeQuery()) {
                        ResultSetMetaData md = rs.getMetaData();
                        while (rs.next()) {
                            System.out.println(mode + " row " + rs.getInt(1) + " " + rs.getBigDecimal(2) + " " + rs.getDate(3));
                        }
                        System.out.println(mode + " scale " + md.getScale(2) + " precision " + md.getPrecision(2));
                    }
                }
                // Every digit of a DECIMAL(27, 9) and of LARGEINT's bounds, both ways.
                try (Statement s = c.createStatement()) {
                    s.execute("CREATE TABLE n (id INT, d DECIMAL(27,9), l LARGEINT) DISTRIBUTED BY HASH(id) BUCKETS 1");
                }
                try (PreparedStatement p = c.prepareStatement("INSERT INTO n VALUES (?, ?, ?), (?, ?, ?)")) {
                    p.setInt(1, 1);
                    p.setBigDecimal(2, new java.math.BigDecimal("123456789012345678.123456789"));
                    p.setBigDecimal(3, new java.math.BigDecimal("170141183460469231731687303715884105727"));
                    p.setInt(4, 2);
                    p.setBigDecimal(5, new java.math.BigDecimal("-0.000000001"));
                    p.setBigDecimal(6, new java.math.BigDecimal("-170141183460469231731687303715884105728"));
                    p.executeUpdate();
                }
                try (PreparedStatement p = c.prepareStatement("SELECT d, l FROM n WHERE id > ? ORDER BY id")) {
                    p.setInt(1, 0);
                    try (ResultSet rs = p.executeQuery()) {
                        while (rs.next()) {
                            System.out.println(mode + " exact " + rs.getBigDecimal(1).toPlainString() + " " + rs.getBigDecimal(2).toPlainString());
                        }
                    }
                }
            }
        }
    }
}
