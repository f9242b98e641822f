#!/usr/bin/env python3
"""Plot of the birthday spray's odds: docs/birthday-odds.svg.

Success against probes for K = 64, 128, 256 mapped ports over the full
range (64512 ports), 4096 and 1000 ports: the formula as curves, the
simulation (`birthday simulate --sweep --json`) as points with their 95 %
intervals. The curves are the formula computed here, checked against the
formula the simulation reports at every point (so they are libnat's).

    build/tools/birthday/birthday simulate --sweep --json --trials 10000 \\
        | python3 tools/birthday/odds_plot.py > docs/birthday-odds.svg

Standard library only; writes SVG on stdout.
"""
import json
import math
import sys

W, H = 760, 480
LEFT, RIGHT, TOP, BOTTOM = 70, 210, 40, 60
X_MAX_LOG2 = 14  # 16384 probes
COLOURS = {64: "#1b9e77", 128: "#d95f02", 256: "#7570b3"}
DASHES = {64512: "", 4096: "6,4", 1000: "2,3"}


def odds(n, k, m):
    """1 - prod_{i<m} (n-k-i)/(n-i), as nat_bday_odds()."""
    if k == 0 or m == 0:
        return 0.0
    if k >= n or m > n - k:
        return 1.0
    return -math.expm1(math.fsum(math.log1p(-k / (n - i)) for i in range(m)))


def x_of(m):
    return LEFT + (W - LEFT - RIGHT) * math.log2(m) / X_MAX_LOG2


def y_of(p):
    return TOP + (H - TOP - BOTTOM) * (1.0 - p)


def curve_path(n, k):
    pts, m = [], 1.0
    while m <= 2 ** X_MAX_LOG2:
        mi = int(round(m))
        pts.append("%.1f,%.1f" % (x_of(mi), y_of(odds(n, k, mi))))
        m *= 2 ** 0.0625
    return "M" + " L".join(pts)


def main():
    doc = json.load(sys.stdin)
    if doc.get("schema_version") != 1 or doc.get("mode") != "sweep":
        sys.exit("odds_plot.py: expected `birthday simulate --sweep --json`")
    out = []
    add = out.append
    add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
        % (W, H, W, H))
    add('<rect width="100%" height="100%" fill="white"/>')
    add('<text x="%d" y="22" font-size="15">Birthday spray: success against '
        'probes (formula: lines; simulation, %d trials a point: dots with '
        '95 %% intervals)</text>' % (LEFT - 40, doc["config"]["trials"]))
    # grid and axes
    for i in range(X_MAX_LOG2 + 1):
        x = x_of(2 ** i)
        add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
            % (x, TOP, x, H - BOTTOM))
        if i % 2 == 0:
            add('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                % (x, H - BOTTOM + 16, 2 ** i))
    for j in range(11):
        y = y_of(j / 10)
        add('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
            % (LEFT, y, W - RIGHT, y))
        add('<text x="%d" y="%.1f" text-anchor="end">%d %%</text>'
            % (LEFT - 6, y + 4, j * 10))
    add('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
        'stroke="#444"/>' % (LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM))
    add('<text x="%d" y="%d" text-anchor="middle">probes sent by the dialer '
        '(m, log scale)</text>' % ((LEFT + W - RIGHT) // 2, H - 18))
    add('<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 '
        '%d)">chance of a hit</text>' % ((TOP + H - BOTTOM) // 2,
                                         (TOP + H - BOTTOM) // 2))
    # curves and points
    for c in doc["curves"]:
        n, k = c["n"], c["sockets"]
        colour, dash = COLOURS.get(k, "#000"), DASHES.get(n, "1,1")
        add('<path d="%s" fill="none" stroke="%s" stroke-width="1.6"%s/>'
            % (curve_path(n, k), colour,
               ' stroke-dasharray="%s"' % dash if dash else ""))
        for p in c["points"]:
            mine = odds(n, k, p["probes"])
            if abs(mine - p["formula"]) > 1e-9:
                sys.exit("odds_plot.py: formula differs at n %d K %d m %d: "
                         "%.12f vs %.12f" % (n, k, p["probes"], mine,
                                             p["formula"]))
            x = x_of(p["probes"])
            add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>'
                % (x, y_of(p["ci_lo"]), x, y_of(p["ci_hi"]), colour))
            add('<circle cx="%.1f" cy="%.1f" r="2.6" fill="%s"/>'
                % (x, y_of(p["success"]), colour))
    # legend
    lx, ly = W - RIGHT + 16, TOP + 8
    add('<text x="%d" y="%d" font-weight="bold">mapped ports K</text>'
        % (lx, ly))
    for i, k in enumerate(sorted(COLOURS)):
        y = ly + 18 * (i + 1)
        add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" '
            'stroke-width="3"/>' % (lx, y - 4, lx + 26, y - 4, COLOURS[k]))
        add('<text x="%d" y="%d">K = %d</text>' % (lx + 32, y, k))
    ly += 18 * 5
    add('<text x="%d" y="%d" font-weight="bold">ports n</text>' % (lx, ly))
    for i, (n, label) in enumerate([(64512, "1024-65535 (64512)"),
                                    (4096, "4096"), (1000, "1000")]):
        y = ly + 18 * (i + 1)
        dash = DASHES[n]
        add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" '
            'stroke-width="1.6"%s/>' % (lx, y - 4, lx + 26, y - 4,
                                        ' stroke-dasharray="%s"' % dash
                                        if dash else ""))
        add('<text x="%d" y="%d">%s</text>' % (lx + 32, y, label))
    ly += 18 * 5
    for i, line in enumerate(["1 - prod (n-K-i)/(n-i),", "i = 0 .. m-1",
                              "defaults: K 256, m 2048:", "99.97 % over 64512"]):
        add('<text x="%d" y="%d" fill="#444">%s</text>'
            % (lx, ly + 16 * i, line))
    add('</svg>')
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
