"""Star Schema Benchmark data, written by hand from the specification
(O'Neil, O'Neil, Chen, "Star Schema Benchmark", revision 3) because no SSB
generator is published in the registries this project can reach. It keeps
the specification's cardinalities, value domains and distributions (so the
13 queries keep their selectivities), not dbgen's exact bytes. Each table is
a `|`-separated file with a `|` after every field, as dbgen writes them."""
import argparse
import datetime
import math
import os
import random

NATIONS = [  # (nation, region), TPC-H's 25 nations
    ("ALGERIA", "AFRICA"), ("ARGENTINA", "AMERICA"), ("BRAZIL", "AMERICA"),
    ("CANADA", "AMERICA"), ("EGYPT", "MIDDLE EAST"), ("ETHIOPIA", "AFRICA"),
    ("FRANCE", "EUROPE"), ("GERMANY", "EUROPE"), ("INDIA", "ASIA"), ("INDONESIA", "ASIA"),
    ("IRAN", "MIDDLE EAST"), ("IRAQ", "MIDDLE EAST"), ("JAPAN", "ASIA"),
    ("JORDAN", "MIDDLE EAST"), ("KENYA", "AFRICA"), ("MOROCCO", "AFRICA"),
    ("MOZAMBIQUE", "AFRICA"), ("PERU", "AMERICA"), ("CHINA", "ASIA"), ("ROMANIA", "EUROPE"),
    ("SAUDI ARABIA", "MIDDLE EAST"), ("VIETNAM", "ASIA"), ("RUSSIA", "EUROPE"),
    ("UNITED KINGDOM", "EUROPE"), ("UNITED STATES", "AMERICA"),
]
SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"]
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECI", "5-LOW"]
SHIP_MODES = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"]
COLORS = (
    "almond antique aquamarine azure beige bisque black blanched blue blush brown burlywood "
    "burnished chartreuse chiffon chocolate coral cornflower cornsilk cream cyan dark deep dim "
    "dodger drab firebrick floral forest frosted gainsboro ghost goldenrod green grey honeydew "
    "hot indian ivory khaki lace lavender lawn lemon light lime linen magenta maroon medium "
    "metallic midnight mint misty moccasin navajo navy olive orange orchid pale papaya peach "
    "peru pink plum powder puff purple red rose rosy royal saddle salmon sandy seashell sienna "
    "sky slate smoke snow spring steel tan thistle tomato turquoise violet wheat white yellow"
).split()
TYPES = (["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"],
         ["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"],
         ["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"])
CONTAINERS = (["SM", "LG", "MED", "JUMBO", "WRAP"],
              ["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"])
# The specification's column order, in which lineorder.tbl is written.
LINEORDER_COLUMNS = [
    "lo_orderkey", "lo_linenumber", "lo_custkey", "lo_partkey", "lo_suppkey", "lo_orderdate",
    "lo_orderpriority", "lo_shippriority", "lo_quantity", "lo_extendedprice",
    "lo_ordtotalprice", "lo_discount", "lo_revenue", "lo_supplycost", "lo_tax",
    "lo_commitdate", "lo_shipmode",
]
FIRST_DAY = datetime.date(1992, 1, 1)
DAYS = 2556  # 1992-01-01 .. 1998-12-30, dbgen's DATE table
SEASONS = [((12, 1), (12, 31), "Christmas"), ((6, 1), (8, 31), "Summer"),
           ((11, 1), (11, 30), "Winter"), ((3, 1), (5, 31), "Spring")]


def sizes(sf):
    """Rows per table at scale factor `sf` (the part table grows with log2)."""
    parts = 200_000 * (int(1 + math.log2(sf)) if sf >= 1 else sf)
    return {"customer": max(1, int(30_000 * sf)), "supplier": max(1, int(2_000 * sf)),
            "part": max(1, int(parts)), "orders": max(1, int(1_500_000 * sf))}


def text(rng, low, high):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,. "
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high))).strip() or "x"


def city(nation, rng):
    return nation[:9].ljust(9) + str(rng.randrange(10))


def phone(nation_index, rng):
    return (f"{10 + nation_index}-{rng.randint(100, 999)}-{rng.randint(100, 999)}-"
            f"{rng.randint(1000, 9999)}")


def write(path, rows):
    with open(path + ".tmp", "w") as f:
        for row in rows:
            f.write("|".join(str(v) for v in row))
            f.write("|\n")
    os.rename(path + ".tmp", path)


def customers(n, rng):
    for key in range(1, n + 1):
        i = rng.randrange(25)
        nation, region = NATIONS[i]
        yield (key, f"Customer#{key:09d}", text(rng, 10, 40), city(nation, rng), nation, region,
               phone(i, rng), rng.choice(SEGMENTS))


def suppliers(n, rng):
    for key in range(1, n + 1):
        i = rng.randrange(25)
        nation, region = NATIONS[i]
        yield (key, f"Supplier#{key:09d}", text(rng, 10, 25), city(nation, rng), nation, region,
               phone(i, rng))


def parts(n, rng):
    for key in range(1, n + 1):
        colors = rng.sample(COLORS, 2)
        mfgr = rng.randint(1, 5)
        category = f"MFGR#{mfgr}{rng.randint(1, 5)}"
        yield (key, " ".join(colors), f"MFGR#{mfgr}", category, f"{category}{rng.randint(1, 40)}",
               colors[0], " ".join(rng.choice(t) for t in TYPES), rng.randint(1, 50),
               " ".join(rng.choice(c) for c in CONTAINERS))


def datekey(d):
    return d.year * 10000 + d.month * 100 + d.day


def dates():
    for n in range(DAYS):
        d = FIRST_DAY + datetime.timedelta(days=n)
        day_in_year = d.timetuple().tm_yday
        day_in_week = (d.isoweekday() % 7) + 1  # Sunday is day 1
        season = next((s for lo, hi, s in SEASONS if lo <= (d.month, d.day) <= hi), "Fall")
        last_in_month = (d + datetime.timedelta(days=1)).month != d.month
        yield (datekey(d), f"{d:%B} {d.day}, {d.year}", f"{d:%A}", f"{d:%B}", d.year,
               d.year * 100 + d.month, f"{d:%b}{d.year}", day_in_week, d.day, day_in_year,
               d.month, day_in_year // 7 + 1, season, int(day_in_week == 7),
               int(last_in_month), int((d.month, d.day) in {(1, 1), (7, 4), (12, 25)}),
               int(day_in_week not in (1, 7)))


def lineorders(n_orders, n_customers, n_parts, n_suppliers, rng):
    last_order_day = DAYS - 151
    for o in range(n_orders):
        orderkey = (o // 8) * 32 + (o % 8) + 1  # sparse keys: 8 of every 32
        custkey = rng.randint(1, n_customers)
        if custkey % 3 == 0 and n_customers > 2:  # dbgen leaves a third of customers out
            custkey -= 1
        orderdate = FIRST_DAY + datetime.timedelta(days=rng.randrange(last_order_day))
        priority = rng.choice(PRIORITIES)
        lines = []
        for line in range(1, rng.randint(1, 7) + 1):
            partkey = rng.randint(1, n_parts)
            price = 90000 + (partkey // 10) % 20001 + (partkey % 1000) * 100
            quantity, discount, tax = rng.randint(1, 50), rng.randint(0, 10), rng.randint(0, 8)
            extended = price * quantity
            commit = orderdate + datetime.timedelta(days=rng.randint(30, 90))
            lines.append([orderkey, line, custkey, partkey, rng.randint(1, n_suppliers),
                          datekey(orderdate), priority, 0, quantity, extended, None, discount,
                          extended * (100 - discount) // 100, 6 * price // 10, tax,
                          datekey(commit), rng.choice(SHIP_MODES)])
        total = sum(r[9] * (100 - r[11]) // 100 * (100 + r[14]) // 100 for r in lines)
        for r in lines:
            r[10] = total
            yield r


def generate(sf, out, seed=19):
    if os.path.exists(os.path.join(out, "done")):
        return
    os.makedirs(out, exist_ok=True)
    n = sizes(sf)
    rng = random.Random(seed)
    write(os.path.join(out, "customer.tbl"), customers(n["customer"], rng))
    write(os.path.join(out, "supplier.tbl"), suppliers(n["supplier"], rng))
    write(os.path.join(out, "part.tbl"), parts(n["part"], rng))
    write(os.path.join(out, "dates.tbl"), dates())
    write(os.path.join(out, "lineorder.tbl"),
          lineorders(n["orders"], n["customer"], n["part"], n["supplier"], rng))
    open(os.path.join(out, "done"), "w").close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sf", type=float, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    generate(args.sf, args.out)


if __name__ == "__main__":
    main()
