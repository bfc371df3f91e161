#!/usr/bin/env python3
"""Build the offline fixture world for monitor: replay snapshots of seven feeds.

The world is held here as data (outlets, entries, event labels, expected watch
matches and duplicate links) and rendered deterministically into

    seeds/timeline/<UTC timestamp>/<feed-name>.<xml|json>   one folder per poll
    seeds/expected.json                                     the answers, as data
    tests/data/seeds_expected.md                            the same, for people

Run ``python seeds/build.py`` to regenerate (byte-identical output on every
run; the timeline folder is wiped first so no stale file survives).
``python seeds/build.py --check`` also re-parses every file with feedparser
when it is installed (bozo must be 0) and verifies the output is up to date.

Standard library only. See seeds/README.md for the tour of the world.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import sys
import unicodedata
from email.utils import format_datetime
from pathlib import Path
from xml.dom import minidom
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
TIMELINE = HERE / "timeline"
EXPECTED_JSON = HERE / "expected.json"
EXPECTED_MD = HERE.parent / "tests" / "data" / "seeds_expected.md"
SEED_ARTICLE = HERE / "source" / "seed_article.txt"

UTC = dt.timezone.utc


def T(s: str) -> dt.datetime:
    """'2024-11-27T06:40' -> aware UTC datetime."""
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)


def tz(hours: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours))


# --------------------------------------------------------------------------
# Polls (snapshots).  Folder name = poll time in UTC.  The last one holds
# every feed and is what live polling of the seeds reads.
# --------------------------------------------------------------------------
SNAPSHOTS = [
    T("2024-11-27T08:00"),
    T("2024-11-28T07:30"),
    T("2024-11-29T18:00"),
    T("2024-11-30T12:00"),
    T("2024-12-01T20:00"),
    T("2024-12-02T18:00"),
    T("2024-12-03T12:00"),
    T("2024-12-04T19:00"),
    T("2024-12-05T17:00"),
    T("2024-12-06T09:00"),
    T("2024-12-06T21:00"),
    T("2024-12-07T15:00"),
    T("2024-12-08T06:00"),
    T("2024-12-08T20:00"),
]


def snap_name(s: dt.datetime) -> str:
    return s.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Outlets.  `absent` lists snapshot indexes where the feed was not polled
# (or the fetch failed), so the replay sees gaps.  `window` = how many of the
# newest entries the feed document carries.
# --------------------------------------------------------------------------
FEEDS = {
    "levant-wire": dict(
        format="rss2", ext="xml", window=12,
        title="Levant Wire — Middle East",
        site="https://levantwire.example/",
        feed_url="https://levantwire.example/rss/mideast.xml",
        description="Breaking news and analysis from the Levant Wire news agency.",
        language="en", guid_permalink=False, full_text=True, date_tz=0,
        rss_gmt=True, updated_element="atom",
        absent=[],
        voice="News agency: datelines, neutral attributions, full text, opaque guids.",
    ),
    "daily-courier": dict(
        format="rss2", ext="xml", window=10, ttl=15,
        title="Daily Courier | World News",
        site="https://www.dailycourier.example/news/index.html",
        feed_url="https://www.dailycourier.example/news/index.rss",
        description="The latest world news from the Daily Courier.",
        language="en-gb", guid_permalink=True, full_text=True, date_tz=0,
        rss_gmt=False,
        absent=[1],
        voice="Tabloid: long SHOUTY headlines, short punchy paragraphs, full text.",
    ),
    "northern-post": dict(
        format="atom", ext="xml", window=10,
        title="Northern Post — World, Business & Local",
        site="https://northernpost.example/",
        feed_url="https://northernpost.example/world/atom.xml",
        feed_id="tag:northernpost.example,2024:feed/world",
        description="Independent journalism from the Northern Post.",
        language="en-GB", full_text=True, date_tz=0,
        absent=[6],
        voice="Broadsheet: measured, analytical, summary + full atom:content.",
    ),
    "al-manara": dict(
        format="atom", ext="xml", window=10,
        title="المنارة — أخبار سوريا والعالم العربي",
        site="https://almanara.example/ar/",
        feed_url="https://almanara.example/ar/feed.atom",
        feed_id="tag:almanara.example,2024:feed/ar/news",
        description="آخر الأخبار من موقع المنارة",
        language="ar", full_text=False, date_tz=3,
        absent=[3],
        voice="Arabic-language site: Arabic headlines + one-paragraph summaries, +03:00 dates.",
    ),
    "gulf-observer": dict(
        format="json", ext="json", window=12,
        title="Gulf Observer — Region",
        site="https://gulfobserver.example/",
        feed_url="https://gulfobserver.example/region/feed.json",
        description="Regional news, business and sport from the Gulf Observer.",
        language="en", date_tz=4,
        absent=[0, 5],
        voice="JSON Feed 1.1: transliterations (Hims, Ḥimṣ, Hamah, Hay'at), business/sport mix, +04:00 dates.",
    ),
    "metro-briefs": dict(
        format="rdf", ext="xml", window=10,
        title="Metro Briefs",
        site="https://metrobriefs.example/",
        feed_url="https://metrobriefs.example/briefs/index.rdf",
        description="The news in brief, every few hours.",
        language="en", date_tz=0,
        absent=[1, 5, 9],
        voice="RSS 1.0 (RDF): headline-only or one-sentence briefs; some without dc:date.",
    ),
    "syria-roundup": dict(
        format="rss2", ext="xml", window=10,
        title="Syria Roundup",
        site="https://syriaroundup.example/",
        feed_url="https://syriaroundup.example/feed/",
        description="A daily link blog and notes on Syria, curated by two editors.",
        language="en", guid_permalink=False, full_text=False, date_tz=-5,
        rss_gmt=False,
        absent=[8],
        voice="Link blog on a buggy CMS: reposts with tracking params, repeated guid, missing dates and guids.",
    ),
}

# --------------------------------------------------------------------------
# Watches (the lead's test watches) and the reference matcher used to check
# that every declared `watches` list below is what a word-bounded,
# alias-aware, case-insensitive matcher reports.
# --------------------------------------------------------------------------
WATCHES = {
    "Homs": ["Homs", "Hims", "Ḥimṣ", "حمص"],
    "Hama": ["Hama", "Hamah", "حماة"],
    "HTS": ["HTS", "Hayat Tahrir al-Sham", "Hay'at Tahrir al-Sham", "Tahrir al-Sham",
            "هيئة تحرير الشام"],
}
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def _norm(s: str) -> str:
    return unicodedata.normalize("NFC", s).translate(_APOS).casefold()


def reference_watches(text: str) -> list[str]:
    t = _norm(text)
    out = []
    for name, aliases in WATCHES.items():
        for a in aliases:
            if re.search(r"(?<!\w)" + re.escape(_norm(a)) + r"(?!\w)", t):
                out.append(name)
                break
    return out


# --------------------------------------------------------------------------
# Events (story labels).  kind: interest | hard-negative | context | unrelated
# --------------------------------------------------------------------------
EVENTS = {
    "offensive-launch": ("interest", "2024-11-27", "HTS-led rebels launch an offensive west of Aleppo (days 1-3, before entering the city)."),
    "aleppo-taken": ("interest", "2024-11-29", "Rebels enter (29 Nov) and take most of (30 Nov) Aleppo."),
    "toll-dec1": ("interest", "2024-12-01", "Syrian Observatory toll passes 400 (412 dead, 61 civilians)."),
    "pay-rise": ("interest", "2024-12-04", "Assad orders a 50% pay rise for career soldiers (state media)."),
    "hama-captured": ("interest", "2024-12-05", "Rebels capture Hama; army 'redeploys' outside the city."),
    "toll-dec5": ("interest", "2024-12-05", "Observatory toll rises past 800 (811, revised to 826; 111 civilians)."),
    "homs-exodus": ("interest", "2024-12-06", "Tens of thousands flee Homs towards the coast as rebels close in."),
    "rastan-bridge-strikes": ("interest", "2024-12-06", "Syrian/Russian air strikes on the Al-Rastan bridge, Homs-Hama highway."),
    "homs-captured": ("interest", "2024-12-08", "Rebels take full control of Homs (overnight 7-8 Dec)."),
    "damascus-falls": ("interest", "2024-12-08", "Rebels take Damascus; Assad flees (later: in Moscow)."),
    "idlib-strike-dec2": ("hard-negative", "2024-12-02", "A different air strike: Idlib city market, 2 Dec."),
    "deir-ezzor-sdf": ("hard-negative", "2024-12-06", "A different city taken: SDF enter Deir ez-Zor."),
    "daraa-captured": ("hard-negative", "2024-12-07", "A different city taken: local factions take Daraa."),
    "lebanon-ceasefire": ("context", "2024-11-27", "Israel-Hezbollah ceasefire takes effect (context, not the Syria offensive)."),
    "unrelated-black-friday": ("unrelated", "2024-11-28", "Consumer scam warning."),
    "unrelated-christmas-lights": ("unrelated", "2024-12-01", "Christmas lights switch-on ('lights'/'nights' contain 'hts')."),
    "unrelated-notre-dame": ("unrelated", "2024-12-07", "Notre-Dame reopens."),
    "unrelated-weather-ice": ("unrelated", "2024-11-28", "Ice warning."),
    "unrelated-aleppo-pine": ("unrelated", "2024-12-02", "Aleppo pines replanted on Evia, Greece (city name as a tree)."),
    "unrelated-rates": ("unrelated", "2024-12-04", "Interest rates."),
    "unrelated-council-budget": ("unrelated", "2024-12-03", "Local council budget gap."),
    "unrelated-storm": ("unrelated", "2024-12-06", "Storm warning."),
    "unrelated-football-derby": ("unrelated", "2024-12-07", "Football derby."),
    "unrelated-oil-prices": ("unrelated", "2024-11-28", "Oil prices (Arabic)."),
    "unrelated-gaza-hamas": ("unrelated", "2024-12-04", "Hamas delegation in Cairo (Arabic: حماس vs حماة)."),
    "unrelated-homs-football": ("unrelated", "2024-11-28", "Homs football club wins the Syrian Cup (same city, not the war)."),
    "unrelated-yokohama": ("unrelated", "2024-12-01", "Yokohama port exports ('hama' inside a word)."),
    "unrelated-libya-homs": ("unrelated", "2024-12-02", "The port of Homs in LIBYA (same name, different place)."),
    "unrelated-hims-hers": ("unrelated", "2024-12-02", "Hims & Hers telehealth shares (alias 'Hims' collides)."),
    "unrelated-hamad-airport": ("unrelated", "2024-12-03", "Hamad International airport, Doha ('Hama' prefix)."),
    "unrelated-tariff-hts": ("unrelated", "2024-12-03", "HTS = Harmonized Tariff Schedule (acronym collides)."),
    "unrelated-opec": ("unrelated", "2024-12-05", "Opec+ output decision."),
    "unrelated-tech-recall": ("unrelated", "2024-11-29", "Charger recall."),
    "unrelated-weather-frost": ("unrelated", "2024-12-02", "Frosty weather brief."),
    "unrelated-rail-strike": ("unrelated", "2024-12-03", "Rail strike called off."),
    "unrelated-darts": ("unrelated", "2024-12-07", "Darts."),
    "unrelated-lottery": ("unrelated", "2024-12-08", "Lottery rollover."),
    "unrelated-aleppo-soap": ("unrelated", "2024-12-01", "Aleppo soap exports from Gaziantep (city name as a product)."),
    "unrelated-reading-list": ("unrelated", "2024-12-04", "Weekend reading list."),
    "unrelated-site-note": ("unrelated", "2024-12-08", "Programming note from the blog."),
}


# --------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------
ENTRIES: list[dict] = []
BY_REF: dict[str, dict] = {}


def add(ref, feed, at, event, title, *, link, guid="", dated=True, summary=None,
        paras=None, author=None, tags=(), dup=None, dup_kind=None, watches="",
        false_positive="", fix=None, note=None):
    """Declare one entry.

    guid="" means "the feed's default" (permalink feeds: the link; RDF: none);
    guid=None means the item has no guid at all.  `fix` = a later correction:
    dict(at=..., title=..., paras=..., summary=...).  `watches` is the space
    separated list the matcher must report; `false_positive` the subset that
    is a lexical hit on something else (different place, acronym, brand).
    """
    fmt = FEEDS[feed]["format"]
    if guid == "":
        if fmt in ("rss2",) and FEEDS[feed].get("guid_permalink"):
            guid = link
        elif fmt == "rdf":
            guid = None
        else:
            raise ValueError(f"{ref}: guid required for {feed}")
    e = dict(ref=ref, feed=feed, at=T(at), event=event, title=title, link=link,
             guid=guid, dated=dated, summary=summary, paras=list(paras or []),
             author=author, tags=list(tags), dup=dup, dup_kind=dup_kind,
             watches=watches.split(), false_positive=false_positive.split(),
             fix=None, note=note)
    if fix:
        f = dict(fix)
        f["at"] = T(f["at"])
        e["fix"] = f
    assert event in EVENTS, (ref, event)
    assert ref not in BY_REF, ref
    ENTRIES.append(e)
    BY_REF[ref] = e
    return e


def seed_paragraphs() -> list[str]:
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


LW = "https://levantwire.example/news/"
DC = "https://www.dailycourier.example/news/"
NP = "https://northernpost.example/"
AM = "https://almanara.example/ar/news/"
GO = "https://gulfobserver.example/"
MB = "https://metrobriefs.example/briefs/"
SR = "https://syriaroundup.example/p/"

# ---- levant-wire: the news agency --------------------------------------------
LW_ALEPPO_ENTER = [
    "BEIRUT (Levant Wire) — Islamist-led rebels swept into Aleppo on Friday, reaching the western districts of Syria's second city for the first time since they were driven out in 2016, a war monitor and residents said.",
    "Fighters from Hayat Tahrir al-Sham and allied factions entered the New Aleppo and Hamdaniyeh neighbourhoods after detonating two car bombs at army positions on the city's edge, according to the Syrian Observatory for Human Rights.",
    "Residents reached by telephone described gunfire in the streets and said many families were sheltering indoors. Some said they had seen government troops withdrawing towards the east of the city.",
    "The Syrian army said it had repelled \"a large-scale attack\" and that its forces were holding their positions. Russian and Syrian jets struck rebel supply lines west of the city, the monitor said.",
    "The offensive, launched on Wednesday, is the most serious challenge in years to President Bashar al-Assad, whose forces recaptured Aleppo with Russian and Iranian support after a long siege eight years ago.",
]
LW_PAY_RISE = [
    "DAMASCUS (Levant Wire) — Syrian President Bashar al-Assad ordered a 50 percent increase in the salaries of career military personnel on Wednesday, the state news agency reported, as his forces struggled to halt a rebel advance in the centre of the country.",
    "The decree applies to officers and non-commissioned officers serving on long-term contracts and takes effect from the start of next month, the agency said. It does not cover conscripts or reservists.",
    "The announcement came as rebels led by Hayat Tahrir al-Sham fought government troops on the northern outskirts of Hama, a week after the start of an offensive that has already taken Aleppo.",
    "Public sector salaries in Syria have been eroded by years of war and a collapsing currency, and analysts say low pay has fuelled desertion and corruption in the army.",
]
LW_RASTAN = [
    "BEIRUT (Levant Wire) — Syrian and Russian aircraft carried out several strikes on the Al-Rastan bridge on the Homs-Hama highway on Friday in an attempt to slow a rebel advance on Homs, Syria's third-largest city, a war monitor said.",
    "The Syrian Observatory for Human Rights said the strikes targeted the bridge over the Orontes river and positions around it, aiming to cut the road between Hama and Homs after rebels seized the towns of Rastan and Talbiseh overnight.",
    "Rebels led by Hayat Tahrir al-Sham were about five kilometres from the edge of Homs on Friday morning, the monitor said. The army has set up earth barriers on the highway north of the city.",
    "The Syrian defence ministry said its aircraft had destroyed rebel vehicles and ammunition depots in the Hama countryside, without mentioning the bridge.",
]
LW_ALEPPO_MOST = [
    "BEIRUT (Levant Wire) — Rebels led by Hayat Tahrir al-Sham controlled most of Aleppo on Saturday, including the citadel and the governor's office, after government forces withdrew from the city in the biggest setback for President Bashar al-Assad in years.",
    "The Syrian army acknowledged for the first time that rebels had entered \"large parts\" of the city and said dozens of soldiers had been killed. It described the withdrawal as a redeployment ahead of a counter-attack.",
    "Aleppo's international airport was also reported to be under rebel control. Russian warplanes struck the city for the first time since 2016, the Syrian Observatory for Human Rights said.",
]

add("LW1", "levant-wire", "2024-11-27T03:10", "lebanon-ceasefire",
    "Israel-Hezbollah ceasefire takes effect in Lebanon",
    link=LW + "2024/11/27/israel-hezbollah-ceasefire-takes-effect", guid="LW-20241127-003",
    author="Levant Wire staff", tags=["Lebanon", "Israel"],
    paras=[
        "BEIRUT (Levant Wire) — A ceasefire between Israel and Hezbollah came into effect at 4 a.m. local time on Wednesday, halting more than a year of cross-border hostilities that escalated into full-scale war in September.",
        "Under the US- and French-brokered deal, Israeli forces are to withdraw from southern Lebanon over 60 days while the Lebanese army deploys south of the Litani river.",
        "Displaced families began driving south within minutes of the truce taking hold, despite warnings from the Lebanese army to wait for the all-clear.",
    ])
add("LW2", "levant-wire", "2024-11-27T06:40", "offensive-launch",
    "Syrian rebels launch surprise offensive west of Aleppo",
    link=LW + "2024/11/27/syrian-rebels-launch-offensive-west-of-aleppo", guid="LW-20241127-011",
    author="Levant Wire staff", tags=["Syria"], watches="HTS",
    paras=[
        "BEIRUT (Levant Wire) — Insurgents led by the Islamist group Hayat Tahrir al-Sham (HTS) launched a surprise offensive against Syrian government forces in the countryside west of Aleppo early on Wednesday, a war monitor and rebel sources said.",
        "The Syrian Observatory for Human Rights, a Britain-based monitor with a network of sources inside Syria, said the fighters had seized at least ten villages in the first hours of the assault, the heaviest fighting in the region since 2020.",
        "Rebel commanders said the operation was a response to stepped-up government and Russian shelling of the opposition-held Idlib region. There was no immediate comment from Damascus.",
    ])
add("LW3", "levant-wire", "2024-11-28T10:15", "offensive-launch",
    "Rebels press on towards Aleppo as Syrian army sends reinforcements",
    link=LW + "2024/11/28/rebels-press-on-towards-aleppo", guid="LW-20241128-007",
    author="Levant Wire staff", tags=["Syria"],
    paras=[
        "BEIRUT (Levant Wire) — Rebel fighters pushed to within a few kilometres of Aleppo on Thursday on the second day of their offensive, cutting the main highway linking the city to Damascus, the Syrian Observatory for Human Rights said.",
        "The Syrian army said it was inflicting heavy losses on what it called terrorist organisations and that reinforcements had reached the front. Russian aircraft carried out strikes on rebel-held towns, the monitor said.",
        "More than 180 people, most of them combatants, have been killed since the offensive began, according to the Observatory.",
    ])
add("LW4", "levant-wire", "2024-11-29T16:20", "aleppo-taken",
    "Rebels enter Aleppo for first time since 2016",
    link=LW + "2024/11/29/rebels-enter-aleppo-first-time-since-2016", guid="LW-20241129-014",
    author="Levant Wire staff", tags=["Syria", "Aleppo"], watches="HTS",
    paras=LW_ALEPPO_ENTER,
    note="Wire original; syndicated verbatim by northern-post (NP3) and with an added paragraph by daily-courier (DC3).")
add("LW5", "levant-wire", "2024-11-30T11:00", "aleppo-taken",
    "Rebels take most of Aleppo as army announces 'redeployment'",
    link=LW + "2024/11/30/rebels-take-most-of-aleppo", guid="LW-20241130-004",
    author="Levant Wire staff", tags=["Syria", "Aleppo"], watches="HTS",
    paras=LW_ALEPPO_MOST,
    note="Reposted by syria-roundup (SR2) with utm_* tracking parameters.")
add("LW6", "levant-wire", "2024-12-01T14:30", "toll-dec1",
    "Syria fighting death toll passes 400, monitor says",
    link=LW + "2024/12/01/syria-death-toll-passes-400", guid="LW-20241201-009",
    author="Levant Wire staff", tags=["Syria"], watches="HTS",
    paras=[
        "BEIRUT (Levant Wire) — At least 412 people have been killed in Syria since rebels launched their offensive on Wednesday, including 61 civilians, the Syrian Observatory for Human Rights said on Sunday.",
        "The Britain-based monitor said 214 of the dead were fighters from Hayat Tahrir al-Sham and allied factions and 137 were members of government forces and allied militias.",
        "The toll, compiled from sources on the ground, is the highest for any comparable period since fighting largely subsided in 2020.",
    ])
add("LW7", "levant-wire", "2024-12-02T13:45", "idlib-strike-dec2",
    "Air strikes on Idlib city kill at least 11, rescuers say",
    link=LW + "2024/12/02/air-strikes-idlib-city-kill-11", guid="LW-20241202-006",
    author="Levant Wire staff", tags=["Syria", "Idlib"], watches="HTS",
    paras=[
        "IDLIB, Syria (Levant Wire) — Air strikes hit a residential neighbourhood and a market in the rebel-held city of Idlib on Monday, killing at least 11 people including five children, rescue workers said.",
        "The White Helmets civil defence group said its teams were still searching the rubble of two buildings. A Syrian military source said the army and Russian aircraft had targeted \"terrorist command centres\" in the Idlib region.",
        "Idlib, in Syria's north-west, is the main stronghold of Hayat Tahrir al-Sham, whose fighters have been leading the offensive that swept through Aleppo over the weekend.",
    ])
add("LW8", "levant-wire", "2024-12-04T15:05", "pay-rise",
    "Assad orders 50 percent pay rise for career soldiers",
    link=LW + "2024/12/04/assad-orders-50-percent-pay-rise-career-soldiers", guid="LW-20241204-012",
    author="Levant Wire staff", tags=["Syria"], watches="Hama HTS", paras=LW_PAY_RISE,
    note="Wire original; syndicated verbatim by gulf-observer (GO9).")
add("LW9", "levant-wire", "2024-12-05T12:10", "hama-captured",
    "Rebels say they have captured Hama after army withdraws",
    link=LW + "2024/12/05/rebels-say-they-have-captured-hama", guid="LW-20241205-010",
    author="Levant Wire staff", tags=["Syria", "Hama"], watches="Homs Hama HTS",
    paras=[
        "BEIRUT (Levant Wire) — Syrian rebels said on Thursday they had captured the central city of Hama after days of fighting, and the army said it had withdrawn its troops to protect civilians, the latest blow to President Bashar al-Assad.",
        "In a statement on Telegram, fighters led by Hayat Tahrir al-Sham declared \"the complete liberation\" of Hama and said they had freed hundreds of inmates from the city's central prison.",
        "The army command said units had been \"redeployed and stationed outside the city\" after rebels broke through several of its defensive lines.",
        "Hama, Syria's fourth-largest city, lies about 40 kilometres north of Homs, the next major city on the road to Damascus.",
    ])
add("LW10", "levant-wire", "2024-12-05T15:30", "toll-dec5",
    "Syria death toll rises to 811 in nine days of fighting",
    link=LW + "2024/12/05/syria-death-toll-rises-nine-days-of-fighting", guid="LW-20241205-019",
    author="Levant Wire staff", tags=["Syria"],
    paras=[
        "BEIRUT (Levant Wire) — At least 811 people have been killed in Syria since rebels launched their offensive on November 27, the Syrian Observatory for Human Rights said on Thursday, most of them fighters on both sides.",
        "The dead include 107 civilians, the monitor said. It is the deadliest fighting in Syria since 2020.",
        "Aid agencies say tens of thousands of people have been displaced in the north-west of the country.",
    ],
    fix=dict(at="2024-12-06T07:55",
             title="Syria death toll rises to 826 in nine days of fighting",
             paras=[
                 "BEIRUT (Levant Wire) — At least 826 people have been killed in Syria since rebels launched their offensive on November 27, the Syrian Observatory for Human Rights said, revising its earlier figure, most of them fighters on both sides.",
                 "The dead include 111 civilians, the monitor said. It is the deadliest fighting in Syria since 2020.",
                 "Aid agencies say tens of thousands of people have been displaced in the north-west of the country.",
                 "This story has been updated with the Observatory's revised figures.",
             ]),
    note="CORRECTION: same guid and link; figure 811 -> 826 in title and body, atom:updated 2024-12-06T07:55Z (first seen corrected in the 2024-12-06T09:00Z snapshot).")
add("LW11", "levant-wire", "2024-12-06T08:20", "rastan-bridge-strikes",
    "Air strikes hit Rastan bridge as rebels push toward Homs",
    link=LW + "2024/12/06/air-strikes-hit-rastan-bridge", guid="LW-20241206-005",
    author="Levant Wire staff", tags=["Syria", "Homs", "Hama"], watches="Homs Hama HTS",
    paras=LW_RASTAN,
    note="Wire original; syndicated verbatim by northern-post (NP9).")
add("LW12", "levant-wire", "2024-12-06T16:30", "homs-exodus",
    "Thousands flee Homs for the coast as rebels close in",
    link=LW + "2024/12/06/thousands-flee-homs-for-the-coast", guid="LW-20241206-013",
    author="Levant Wire staff", tags=["Syria", "Homs"], watches="Homs",
    paras=[
        "HOMS, Syria (Levant Wire) — Tens of thousands of people fled Homs on Friday, clogging the highway west towards the Mediterranean coast as rebel fighters advanced on Syria's third-largest city, residents and a war monitor said.",
        "Many of those leaving were members of President Bashar al-Assad's Alawite minority, who fear reprisals if the city falls, said Rami Abdel Rahman, director of the Syrian Observatory for Human Rights.",
        "\"The roads are full, people are taking only what they can carry,\" said a resident of the Zahraa neighbourhood who asked not to be named. Fuel was being sold at several times the usual price at the city's exits, he said.",
        "Lebanon's caretaker government said it was preparing for a possible new influx of Syrian refugees.",
    ])
add("LW13", "levant-wire", "2024-12-06T20:10", "deir-ezzor-sdf",
    "Kurdish-led forces take Deir ez-Zor as government troops withdraw",
    link=LW + "2024/12/06/kurdish-led-forces-take-deir-ez-zor", guid="LW-20241206-021",
    author="Levant Wire staff", tags=["Syria"],
    paras=[
        "QAMISHLI, Syria (Levant Wire) — The US-backed, Kurdish-led Syrian Democratic Forces (SDF) took control of the eastern city of Deir ez-Zor on Friday after government forces and allied Iranian-backed militias pulled out, two security sources said.",
        "The move, far from the rebel offensive in the west of the country, leaves Damascus with only a thin presence in the east. The SDF said it had moved in to fill a security vacuum and protect residents from Islamic State cells.",
    ])
add("LW14", "levant-wire", "2024-12-07T11:25", "daraa-captured",
    "Local rebel groups take Daraa, cradle of 2011 uprising",
    link=LW + "2024/12/07/local-rebel-groups-take-daraa", guid="LW-20241207-008",
    author="Levant Wire staff", tags=["Syria"], watches="HTS",
    paras=[
        "AMMAN (Levant Wire) — Local rebel factions took control of most of the southern city of Daraa on Saturday, the birthplace of the 2011 uprising against President Bashar al-Assad, after the army agreed to an orderly withdrawal, rebel sources said.",
        "The fighters, former opposition groups that had reconciled with the government under a 2018 Russian-brokered deal, are not part of the Hayat Tahrir al-Sham-led alliance advancing from the north.",
        "Jordan closed its main border crossing with Syria, at Jaber-Nassib, as the fighting spread.",
    ])
add("LW15", "levant-wire", "2024-12-08T01:40", "homs-captured",
    "Rebels take full control of Homs, Syria's third city",
    link=LW + "2024/12/08/rebels-take-full-control-of-homs", guid="LW-20241208-002",
    author="Levant Wire staff", tags=["Syria", "Homs"], watches="Homs",
    paras=[
        "BEIRUT (Levant Wire) — Rebels said they had taken full control of Homs early on Sunday, after government forces abandoned the city overnight, cutting off Damascus from the Alawite heartland on the coast.",
        "Thousands of residents poured into the streets, some tearing down posters of President Bashar al-Assad, according to videos posted online. The Syrian Observatory for Human Rights said the army had left without a fight.",
        "The capture of Homs, a day after rebels reached the outskirts, leaves the road to the capital open.",
    ])
add("LW16", "levant-wire", "2024-12-08T05:15", "damascus-falls",
    "Rebels declare Damascus 'free' as Assad flees capital",
    link=LW + "2024/12/08/rebels-declare-damascus-free-assad-flees", guid="LW-20241208-006",
    author="Levant Wire staff", tags=["Syria", "Damascus"], watches="HTS",
    paras=[
        "DAMASCUS (Levant Wire) — Syrian rebels declared on Sunday that they had taken Damascus and that President Bashar al-Assad had fled, ending more than five decades of his family's rule after an offensive that took less than two weeks.",
        "\"We declare the city of Damascus free of the tyrant Bashar al-Assad,\" rebel factions said in a statement read on state television. Crowds gathered in Umayyad Square, chanting and firing into the air.",
        "Two senior army officers said Assad had boarded a plane at Damascus airport before dawn for an unknown destination. The prime minister said he was ready to cooperate with \"any leadership chosen by the people\".",
        "Hayat Tahrir al-Sham, the strongest rebel group, told fighters not to approach public institutions, which it said would remain under the prime minister's supervision until an official handover.",
    ])
add("LW17", "levant-wire", "2024-12-08T14:00", "damascus-falls",
    "Assad is in Moscow with his family, Russian agencies report",
    link=LW + "2024/12/08/assad-in-moscow-russian-agencies", guid="LW-20241208-015",
    author="Levant Wire staff", tags=["Syria", "Russia"],
    paras=[
        "MOSCOW (Levant Wire) — Ousted Syrian President Bashar al-Assad has arrived in Moscow with his family and been granted asylum on humanitarian grounds, Russian news agencies reported on Sunday, citing a Kremlin source.",
        "The Russian foreign ministry said earlier that Assad had left Syria after negotiations with participants in the conflict and had given instructions for a peaceful transfer of power.",
    ])

# ---- daily-courier: the tabloid ---------------------------------------------
DC_SEED_LINK = DC + "article-14167829/Tens-thousands-flee-mass-exodus-Homs-Islamist-rebels-set-capture-THIRD-Syrian-city.html"
DC_SEED_TITLE = ("Tens of thousands flee in a mass exodus as Islamist-led rebels look set to capture a "
                 "THIRD Syrian city in a fresh blow to Assad – with fears it could trigger a new wave of "
                 "European migration")
DC_HAMA_LINK = DC + "article-14163311/Rebels-seize-Hama-fresh-humiliation-Assad-army-admits-lost-Syrias-fourth-city.html"
DC_HAMA_TITLE = "Rebels seize Hama in fresh humiliation for Assad as army admits it has lost Syria's fourth city"

add("DC1", "daily-courier", "2024-11-27T12:05", "offensive-launch",
    "Syria's forgotten war ERUPTS again as jihadist-led rebels launch lightning assault on Assad's forces near Aleppo",
    link=DC + "article-14145501/Syria-war-erupts-jihadist-led-rebels-launch-lightning-assault-Aleppo.html",
    author="Tom Ashcroft, Foreign Correspondent", tags=["World News", "Syria"], watches="HTS",
    summary="Thousands of fighters poured across front lines that had been frozen for four years.",
    paras=[
        "Syria's long-frozen civil war roared back to life today as thousands of jihadist-led rebels launched a lightning assault on President Bashar al-Assad's forces west of Aleppo.",
        "Fighters from Hayat Tahrir al-Sham - a group that grew out of al-Qaeda's Syrian branch - overran a string of villages in a matter of hours, according to a war monitor.",
        "The attack came on the very day a ceasefire took effect in neighbouring Lebanon between Israel and Hezbollah, Assad's battered ally.",
        "Footage shared online showed columns of pick-up trucks racing along rural roads as plumes of smoke rose over the countryside.",
    ])
add("DC2", "daily-courier", "2024-11-28T21:00", "unrelated-black-friday",
    "Black Friday bargain hunters warned over copycat websites selling FAKE discounts",
    link=DC + "article-14149920/Black-Friday-bargain-hunters-warned-copycat-websites-fake-discounts.html",
    author="Ellie Brannigan, Consumer Editor", tags=["Money"],
    summary="Scammers register lookalike web addresses days before the sales, experts warn.",
    paras=[
        "Shoppers hunting for Black Friday deals have been warned to watch out for copycat websites offering 'too good to be true' discounts on designer goods and gadgets.",
        "Consumer experts say scammers are registering lookalike web addresses days before the sales, then vanishing with customers' card details.",
        "Tips include checking the web address carefully, paying by credit card and being wary of sites that only accept bank transfers.",
    ])
add("DC3", "daily-courier", "2024-11-29T20:45", "aleppo-taken",
    "Jihadist-led rebels storm into Aleppo for the first time in eight years",
    link=DC + "article-14151782/Jihadist-led-rebels-storm-Aleppo-time-eight-years.html",
    author="Levant Wire", tags=["World News", "Syria"], watches="HTS",
    summary=LW_ALEPPO_ENTER[0],
    paras=LW_ALEPPO_ENTER + [
        "The Foreign Office has long advised against all travel to Syria. British nationals still in the country were urged last night to leave by any commercial means available.",
    ],
    dup="LW4", dup_kind="syndicated-wire-plus-paragraph",
    note="Levant Wire copy, own headline, byline 'Levant Wire', one extra closing paragraph.")
add("DC4", "daily-courier", "2024-11-30T09:10", "aleppo-taken",
    "Assad's grip on Aleppo COLLAPSES as rebels tear down his posters and parade through the city's ancient citadel",
    link=DC + "article-14153340/Assad-grip-Aleppo-collapses-rebels-tear-posters-parade-citadel.html",
    author="Tom Ashcroft, Foreign Correspondent", tags=["World News", "Syria"], watches="HTS",
    summary="Troops melted away from Syria's second city in a stunning collapse.",
    paras=[
        "Jubilant rebels paraded through the heart of Aleppo today after President Bashar al-Assad's troops melted away from Syria's second city in a stunning collapse.",
        "Videos showed gunmen posing in front of the city's ancient citadel and tearing down giant portraits of the dictator, as residents watched from balconies.",
        "The Islamist group HTS, which leads the rebel coalition, urged fighters to protect civilians and public property and promised that Christians and other minorities would be safe.",
        "Russian jets pounded the outskirts overnight in a desperate bid to slow the advance, according to the Syrian Observatory for Human Rights.",
    ])
add("DC5", "daily-courier", "2024-12-01T18:00", "unrelated-christmas-lights",
    "Crowds flock to Christmas lights switch-on as festive nights return to the high street",
    link=DC + "article-14157002/Crowds-flock-Christmas-lights-switch-festive-nights-return-high-street.html",
    author="Courier Reporter", tags=["News"],
    summary="Traders hope the festive nights will bring a much-needed boost.",
    paras=[
        "Thousands of families packed town centres across the country last night as the Christmas lights were switched on, with traders hoping the festive nights will bring a much-needed boost.",
        "Organisers said crowds were the biggest since before the pandemic, helped by dry weather and free fairground rides.",
    ])
add("DC6", "daily-courier", "2024-12-04T16:40", "pay-rise",
    "Desperate Assad orders 50% pay rise for his troops as rebels close in on Hama",
    link=DC + "article-14161420/Desperate-Assad-orders-50-pay-rise-troops-rebels-close-Hama.html",
    author="Tom Ashcroft, Foreign Correspondent", tags=["World News", "Syria"], watches="Hama",
    summary="Dictator tries to shore up his crumbling army with a salary boost.",
    paras=[
        "Syrian dictator Bashar al-Assad has ordered a 50 per cent pay rise for his career soldiers in a desperate bid to shore up his crumbling army.",
        "The decree, announced on state media, came as jihadist-led rebels battled government forces on the edge of Hama, a week after seizing Aleppo.",
        "Experts say years of poverty pay have left the army hollowed out, with soldiers earning the equivalent of just a few pounds a month.",
    ])
add("DC7", "daily-courier", "2024-12-05T13:20", "hama-captured", DC_HAMA_TITLE,
    link=DC_HAMA_LINK,
    author="Tom Ashcroft, Foreign Correspondent", tags=["World News", "Syria"], watches="Hama HTS",
    summary="Army says troops have been 'redeployed' outside the city.",
    paras=[
        "Islamist-led rebels captured the Syrian city of Hama today after days of ferocious street fighting, dealing another crushing blow to Bashar al-Assad.",
        "The army admitted it had lost control and said its troops had been 'redeployed' outside the city - the same language it used as Aleppo fell last week.",
        "Rebel fighters from HTS kissed the ground as they entered the city, while residents set fire to a giant poster of Assad outside the town hall.",
        "Hama holds painful memories for many Syrians: in 1982 Assad's father Hafez crushed an uprising there, killing thousands.",
    ],
    note="Its /amp/ variant is carried by metro-briefs (MB7).")
SEED_PARAS = seed_paragraphs()
add("DC8", "daily-courier", "2024-12-06T10:45", "homs-exodus", DC_SEED_TITLE,
    link=DC_SEED_LINK, author="Foreign Staff", tags=["World News", "Syria"], watches="Homs Hama HTS",
    summary=SEED_PARAS[1], paras=SEED_PARAS[1:],
    note="THE SEED ARTICLE (seeds/source/seed_article.txt, paragraphs 2..end as content:encoded, "
         "paragraph 1 is the headline). Also mentions Rastan bridge, Hama capture, the 826 toll and the pay "
         "rise, but its story is the Homs exodus.")
add("DC9", "daily-courier", "2024-12-07T08:15", "homs-exodus", DC_SEED_TITLE,
    link=DC_SEED_LINK + "?utm_source=rss&utm_medium=feed&utm_campaign=weekend_push#comments",
    author="Foreign Staff", tags=["World News", "Syria"], watches="Homs Hama HTS",
    summary=SEED_PARAS[1], paras=SEED_PARAS[1:],
    dup="DC8", dup_kind="tracking-params-repush",
    note="Same feed re-pushes the seed article a day later: new pubDate, permalink guid = link with "
         "utm_* parameters and #comments fragment. Same article as DC8.")
add("DC10", "daily-courier", "2024-12-07T21:10", "unrelated-notre-dame",
    "Notre-Dame reopens five years after fire as world leaders gather in Paris",
    link=DC + "article-14171005/Notre-Dame-reopens-five-years-fire-world-leaders-Paris.html",
    author="Courier Reporter", tags=["World News", "France"],
    summary="Restored cathedral draws gasps from guests.",
    paras=[
        "Notre-Dame cathedral reopened its doors tonight, five years after a devastating fire tore through its roof, with world leaders and dignitaries among the congregation.",
        "The restored interior, its pale limestone scrubbed clean of centuries of grime, drew gasps from guests as the great bells rang out across Paris.",
    ])
add("DC11", "daily-courier", "2024-12-08T07:20", "damascus-falls",
    "Assad FLEES Syria as rebels seize Damascus and crowds topple statues of his father",
    link=DC + "article-14172345/Assad-flees-Syria-rebels-seize-Damascus-crowds-topple-statues.html",
    author="Tom Ashcroft, Foreign Correspondent", tags=["World News", "Syria"], watches="Homs HTS",
    summary="His family's brutal 54-year grip on power is over.",
    paras=[
        "Bashar al-Assad has fled Syria as Islamist-led rebels swept into Damascus, ending his family's brutal 54-year grip on power.",
        "Jubilant crowds poured into the streets of the capital, toppling a statue of his father Hafez and ransacking the presidential palace.",
        "The rebels, led by HTS, declared on state television that the 'tyrant' had gone and that prisoners had been freed from the notorious Sednaya jail.",
        "Hours earlier the rebels had taken Homs, the country's third city, after government troops abandoned it without a fight.",
    ])
add("DC12", "daily-courier", "2024-12-08T15:00", "damascus-falls",
    "Inside the abandoned palace: looters roam Assad's marble halls as Syria wakes up to life without the dictator",
    link=DC + "article-14173990/Inside-abandoned-palace-looters-roam-Assad-marble-halls.html",
    author="Courier Reporter", tags=["World News", "Syria"],
    summary="Garages full of luxury cars were found within hours of his flight.",
    paras=[
        "Looters wandered through the marble corridors of Bashar al-Assad's palace in Damascus today, carrying off furniture, rugs and framed photographs as Syrians began to grasp that his regime was gone.",
        "Garages were found full of luxury cars, and one reception room had been stripped bare within hours of his flight.",
    ])

# ---- northern-post: the broadsheet (Atom) --------------------------------------
NP_HAMA_LINK = NP + "world/2024/dec/05/syria-rebels-capture-hama-army-withdraws"
NP_HAMA_SUMMARY = "Fall of Syria's fourth-largest city opens the road south towards Homs."
NP_HAMA_TYPO = "Rebels capture Hamma as Syrian army pulls out of city"

add("NP1", "northern-post", "2024-11-27T09:30", "offensive-launch",
    "Syrian rebels mount biggest offensive in years as Lebanon truce begins",
    link=NP + "world/2024/nov/27/syria-rebels-offensive-aleppo-lebanon-truce",
    guid="tag:northernpost.example,2024:world-88121",
    author="Catherine Mills, Middle East correspondent", tags=["World", "Syria"], watches="HTS",
    summary="Assault led by Hayat Tahrir al-Sham breaks four years of relative calm on the north-western front lines.",
    paras=[
        "Rebel groups in north-west Syria have launched their biggest offensive against government forces in more than four years, seizing villages west of Aleppo on the same morning that a ceasefire took effect in Lebanon.",
        "The assault is led by Hayat Tahrir al-Sham, the dominant faction in the opposition-held Idlib province, which was once affiliated with al-Qaida but says it has cut those ties.",
        "Analysts said the timing was unlikely to be a coincidence. Hezbollah, which sent fighters to rescue the Assad government a decade ago, has been badly weakened by its war with Israel, and Russia's attention is focused on Ukraine.",
    ])
add("NP2", "northern-post", "2024-11-28T16:00", "unrelated-weather-ice",
    "Yellow warning for ice across the north as temperatures plunge",
    link=NP + "uk/2024/nov/28/yellow-warning-ice-north-temperatures",
    guid="tag:northernpost.example,2024:uk-88160", author="Northern Post staff", tags=["Weather"],
    summary="Temperatures could fall to -6C in rural areas tonight.",
    paras=[
        "Forecasters have issued a yellow warning for ice covering much of the north, with temperatures expected to fall as low as -6C in rural areas tonight.",
        "Drivers have been told to allow extra time for journeys on untreated roads, and several councils said gritters would be out from early evening.",
    ])
add("NP3", "northern-post", "2024-11-29T21:30", "aleppo-taken",
    "Syrian rebels break into Aleppo as army lines crumble",
    link=NP + "world/2024/nov/29/syrian-rebels-break-into-aleppo",
    guid="tag:northernpost.example,2024:world-88210", author="Levant Wire", tags=["World", "Syria"],
    watches="HTS", summary=LW_ALEPPO_ENTER[0], paras=LW_ALEPPO_ENTER,
    dup="LW4", dup_kind="syndicated-wire-verbatim",
    note="Levant Wire copy, verbatim body, own headline, byline 'Levant Wire'.")
add("NP4", "northern-post", "2024-12-01T16:45", "toll-dec1",
    "More than 400 killed in Syria as rebels tighten hold on Aleppo",
    link=NP + "world/2024/dec/01/more-than-400-killed-syria-rebels-aleppo",
    guid="tag:northernpost.example,2024:world-88302",
    author="Catherine Mills, Middle East correspondent", tags=["World", "Syria"], watches="Hama",
    summary="Monitor says dozens of civilians among the dead in five days of fighting.",
    paras=[
        "More than 400 people have been killed in five days of fighting in northern Syria, according to a monitoring group, as rebels consolidated their grip on Aleppo and pushed south towards Hama province.",
        "The Syrian Observatory for Human Rights said the dead included 61 civilians. Government and Russian air strikes hit several rebel-held areas overnight.",
        "In Aleppo, residents described queues for bread and fuel, and said mobile networks were working only intermittently.",
    ])
add("NP5", "northern-post", "2024-12-02T19:00", "unrelated-aleppo-pine",
    "Volunteers plant 40,000 Aleppo pines on Evia three years after wildfires",
    link=NP + "environment/2024/dec/02/evia-aleppo-pine-replanting",
    guid="tag:northernpost.example,2024:environment-88341", author="Northern Post staff",
    tags=["Environment", "Greece"],
    summary="Drought-tolerant species chosen to restore burnt slopes on the Greek island.",
    paras=[
        "Volunteers on the Greek island of Evia have planted 40,000 Aleppo pine saplings this autumn in an effort to restore forests destroyed by the wildfires of 2021.",
        "Foresters say the hardy, drought-tolerant species regenerates quickly after fire, but warn that hotter summers mean replanted slopes will need years of protection.",
    ])
add("NP6", "northern-post", "2024-12-03T11:20", "unrelated-council-budget",
    "Council warns of £30m budget gap as social care costs climb",
    link=NP + "uk/2024/dec/03/council-30m-budget-gap-social-care",
    guid="tag:northernpost.example,2024:uk-88370", author="Northern Post staff", tags=["Local"],
    summary="Libraries and leisure centres could face shorter hours.",
    paras=[
        "The city council has warned it faces a £30m gap in next year's budget, blaming rising demand for adult social care and children's services.",
        "Leaders said libraries and leisure centres could face reduced opening hours unless the government increases funding.",
    ])
add("NP7", "northern-post", "2024-12-04T09:00", "unrelated-rates",
    "Rate-setter signals gradual path for interest rate cuts",
    link=NP + "business/2024/dec/04/rate-setter-gradual-interest-rate-cuts",
    guid="tag:northernpost.example,2024:business-88391", author="Northern Post staff", tags=["Business"],
    summary="Services inflation remains stubborn, policymaker warns.",
    paras=[
        "A senior central bank policymaker has signalled that interest rates will fall only gradually next year, warning that price pressures in the services sector remain stubborn.",
        "Markets now expect two or three quarter-point cuts in 2025.",
    ])
add("NP8", "northern-post", "2024-12-05T14:05", "hama-captured", NP_HAMA_TYPO,
    link=NP_HAMA_LINK, guid="tag:northernpost.example,2024:world-88455",
    author="Catherine Mills, Middle East correspondent", tags=["World", "Syria"], watches="Homs Hama HTS",
    summary=NP_HAMA_SUMMARY,
    paras=[
        "Syrian rebels have captured Hama, the country's fourth-largest city, after the army said it had withdrawn its forces to avoid fighting inside residential areas.",
        "The fall of Hama, which government troops had held throughout the civil war, is a major blow to Bashar al-Assad and leaves Homs, 40km to the south, as the last big city between the rebels and the capital's northern approaches.",
        "Hayat Tahrir al-Sham's leader visited the city's central square within hours, according to videos verified by the Northern Post.",
        "Residents said the fighting had been the heaviest they had experienced, with shelling through the night on Wednesday.",
    ],
    fix=dict(at="2024-12-05T18:30",
             title="Rebels capture Hama as Syrian army pulls out of city"),
    note="CORRECTION: title typo 'Hamma' fixed to 'Hama' (same id, same link, <updated> 2024-12-05T18:30Z; "
         "typo visible in the 2024-12-05T17:00Z snapshot, fixed from 2024-12-06T09:00Z). "
         "syria-roundup (SR6) copied the typo title and links here with a #fragment.")
add("NP9", "northern-post", "2024-12-06T09:50", "rastan-bridge-strikes",
    "Jets bomb Orontes bridge in bid to halt rebel advance on Homs",
    link=NP + "world/2024/dec/06/jets-bomb-orontes-bridge-rebel-advance-homs",
    guid="tag:northernpost.example,2024:world-88470", author="Levant Wire", tags=["World", "Syria"],
    watches="Homs Hama HTS", summary=LW_RASTAN[0], paras=LW_RASTAN,
    dup="LW11", dup_kind="syndicated-wire-verbatim",
    note="Levant Wire copy, verbatim body, own headline.")
add("NP10", "northern-post", "2024-12-06T18:00", "unrelated-storm",
    "Storm to bring 80mph gusts and heavy rain this weekend",
    link=NP + "uk/2024/dec/06/storm-80mph-gusts-heavy-rain-weekend",
    guid="tag:northernpost.example,2024:uk-88489", author="Northern Post staff", tags=["Weather"],
    summary="Amber wind warning for the west from Saturday morning.",
    paras=[
        "Gusts of up to 80mph are expected on exposed coasts this weekend as the season's fourth named storm sweeps in from the Atlantic, forecasters said.",
        "An amber wind warning covers much of the west from Saturday morning, with disruption to ferries and rail services likely.",
    ])
add("NP11", "northern-post", "2024-12-07T19:00", "unrelated-football-derby",
    "Late header settles bruising derby as Rovers climb to third",
    link=NP + "sport/2024/dec/07/late-header-settles-derby-rovers-third",
    guid="tag:northernpost.example,2024:sport-88502", author="Northern Post sport", tags=["Sport"],
    summary="Neighbours without a win in six.",
    paras=[
        "A stoppage-time header from a substitute settled a bruising derby on Saturday, lifting Rovers to third in the table and leaving their neighbours without a win in six.",
    ])
add("NP12", "northern-post", "2024-12-08T09:00", "damascus-falls",
    "The fall of the House of Assad: how a 13-year war was decided in 12 days",
    link=NP + "world/2024/dec/08/fall-of-house-of-assad-analysis",
    guid="tag:northernpost.example,2024:world-88512",
    author="Catherine Mills, Middle East correspondent", tags=["World", "Syria", "Analysis"],
    watches="Homs Hama HTS",
    summary="From Aleppo to Damascus, the rebel advance exposed a state that had been hollowed out.",
    paras=[
        "When rebels broke out of Idlib on 27 November, few analysts expected them to reach Aleppo, let alone Damascus. Twelve days later, Bashar al-Assad has fled and his regime has collapsed.",
        "Aleppo fell in a weekend. Hama, which had resisted rebel assaults throughout the war, went on 5 December. Homs, the hinge between the capital and the coast, was abandoned on Saturday night.",
        "The speed of the collapse reflected a state hollowed out by sanctions, corruption and years of economic freefall. A 50% pay rise for career soldiers, announced on 4 December, came far too late.",
        "Hay'at Tahrir al-Sham now faces the hardest task of all: persuading Syrians and foreign governments that it can govern a diverse country.",
    ],
    note="Analysis recapping every event; its story is damascus-falls.")
add("NP13", "northern-post", "2024-12-08T18:30", "damascus-falls",
    "What next for Syria? Five questions after Assad's fall",
    link=NP + "world/2024/dec/08/what-next-for-syria-five-questions",
    guid="tag:northernpost.example,2024:world-88530",
    author="Catherine Mills, Middle East correspondent", tags=["World", "Syria", "Explainer"], watches="HTS",
    summary="Who is in charge, what happens to Russia's bases, and will refugees go home?",
    paras=[
        "Who is in charge? For now, rebel commanders say the prime minister will run state institutions until a transitional body is formed. The most powerful group, HTS, is designated a terrorist organisation by the UN, the US and the UK.",
        "What happens to Russia's bases? Moscow's naval facility at Tartus and its airbase at Hmeimim on the coast are now in doubt.",
        "Will refugees go home? Turkey and Lebanon, which host millions of Syrians, hope so, but aid agencies warn that the country's infrastructure is in ruins.",
    ])

# ---- al-manara: Arabic (Atom, summaries only, +03:00) --------------------------
def am(ref, at, event, n, title, summary, watches=""):
    day = at[:10].replace("-", "/")
    add(ref, "al-manara", at, event, title, link=f"{AM}{day}/{n}",
        guid=f"tag:almanara.example,2024:news-{n}", author="المنارة", summary=summary,
        tags=["سوريا"] if event not in ("lebanon-ceasefire", "unrelated-gaza-hamas", "unrelated-oil-prices") else [],
        watches=watches)


am("AM1", "2024-11-27T02:30", "lebanon-ceasefire", 50112,
   "وقف إطلاق النار بين إسرائيل وحزب الله يدخل حيز التنفيذ",
   "دخل اتفاق وقف إطلاق النار بين إسرائيل وحزب الله حيز التنفيذ فجر الأربعاء، وبدأ آلاف النازحين العودة إلى جنوب لبنان.")
am("AM2", "2024-11-27T07:15", "offensive-launch", 50118,
   "فصائل المعارضة تطلق هجوماً واسعاً في ريف حلب الغربي",
   "أعلنت فصائل معارضة تقودها هيئة تحرير الشام بدء عملية عسكرية ضد مواقع القوات الحكومية في ريف حلب الغربي، وقال المرصد السوري لحقوق الإنسان إنها سيطرت على عدة قرى.",
   "HTS")
am("AM3", "2024-11-28T09:00", "unrelated-oil-prices", 50140,
   "أسعار النفط تتراجع مع انحسار المخاوف بشأن الإمدادات",
   "تراجعت أسعار النفط في التعاملات الآسيوية بعد دخول وقف إطلاق النار في لبنان حيز التنفيذ، مع ترقب المستثمرين لاجتماع تحالف أوبك+.")
am("AM4", "2024-11-30T08:40", "aleppo-taken", 50190,
   "الفصائل المسلحة تسيطر على معظم أحياء مدينة حلب",
   "قال المرصد السوري إن هيئة تحرير الشام والفصائل المتحالفة معها باتت تسيطر على معظم أحياء مدينة حلب بما فيها القلعة ومبنى المحافظة، بعد انسحاب القوات الحكومية.",
   "HTS")
am("AM5", "2024-12-01T12:00", "toll-dec1", 50221,
   "المرصد السوري: حصيلة القتلى تتجاوز 400 منذ بدء الهجوم",
   "أفاد المرصد السوري لحقوق الإنسان بمقتل 412 شخصاً بينهم 61 مدنياً منذ بدء هجوم الفصائل في شمال سوريا يوم الأربعاء.")
am("AM6", "2024-12-02T15:10", "idlib-strike-dec2", 50247,
   "غارات جوية على مدينة إدلب توقع قتلى مدنيين",
   "قال الدفاع المدني السوري إن 11 شخصاً على الأقل بينهم خمسة أطفال قتلوا في غارات استهدفت حياً سكنياً وسوقاً في مدينة إدلب.")
am("AM7", "2024-12-04T11:00", "unrelated-gaza-hamas", 50290,
   "وفد من حماس في القاهرة لبحث التهدئة في غزة",
   "وصل وفد من حركة حماس إلى القاهرة لإجراء محادثات مع مسؤولين مصريين بشأن مقترح لوقف إطلاق النار وتبادل الأسرى في غزة.")
am("AM8", "2024-12-04T17:30", "pay-rise", 50301,
   "الأسد يصدر مرسوماً بزيادة رواتب العسكريين بنسبة 50 في المئة",
   "أصدر الرئيس السوري بشار الأسد مرسوماً يقضي بزيادة رواتب العسكريين المتطوعين بنسبة 50 في المئة، وفق ما نقلته وكالة الأنباء الرسمية، في وقت تدور فيه معارك عند أطراف مدينة حماة.",
   "Hama")
am("AM9", "2024-12-05T13:00", "hama-captured", 50330,
   "هيئة تحرير الشام تعلن السيطرة على مدينة حماة",
   "أعلنت هيئة تحرير الشام والفصائل المتحالفة معها السيطرة الكاملة على مدينة حماة بعد معارك عنيفة، فيما قال الجيش السوري إنه أعاد انتشار قواته خارج المدينة.",
   "Hama HTS")
am("AM10", "2024-12-06T11:20", "homs-exodus", 50362,
   "نزوح عشرات الآلاف من حمص باتجاه الساحل السوري",
   "قال مدير المرصد السوري رامي عبد الرحمن إن عشرات الآلاف من سكان مدينة حمص، معظمهم من الطائفة العلوية، نزحوا نحو الساحل خشية تقدم الفصائل.",
   "Homs")
am("AM11", "2024-12-06T15:40", "rastan-bridge-strikes", 50371,
   "غارات تستهدف جسر الرستن على طريق حمص - حماة",
   "شنت طائرات حربية سورية وروسية غارات على جسر الرستن على الطريق الدولي حمص - حماة في محاولة لقطع الطريق أمام تقدم الفصائل.",
   "Homs Hama")
am("AM12", "2024-12-08T00:50", "homs-captured", 50420,
   "الفصائل تعلن السيطرة الكاملة على مدينة حمص",
   "أعلنت الفصائل المسلحة السيطرة الكاملة على مدينة حمص بعد انسحاب القوات الحكومية منها ليلاً، لتصبح ثالث مدينة كبرى تخرج عن سيطرة الحكومة خلال أيام.",
   "Homs")
am("AM13", "2024-12-08T04:30", "damascus-falls", 50428,
   "سقوط دمشق وفرار بشار الأسد إلى جهة مجهولة",
   "أعلنت الفصائل المسلحة دخول العاصمة دمشق وفرار الرئيس بشار الأسد، فيما احتشد الآلاف في ساحة الأمويين احتفالاً.")

# ---- gulf-observer: JSON Feed 1.1 ---------------------------------------------
HIMS_NFD = unicodedata.normalize("NFD", "Ḥimṣ")
add("GO1", "gulf-observer", "2024-11-28T06:30", "unrelated-homs-football",
    "Homs club ends 15-year wait for Syrian Cup",
    link=GO + "sport/57920-homs-club-ends-wait-syrian-cup", guid="go-57920",
    author="Sport desk", tags=["Sport", "Football"], watches="Homs",
    summary="Homs Athletic beat the holders 2-1 in Latakia to lift the trophy for the first time since 2009.",
    note="Same city, not the war: a Homs watch matches (rightly, lexically) but it is not in any war story.")
add("GO2", "gulf-observer", "2024-11-29T08:00", "offensive-launch",
    "Hay'at Tahrir al-Sham spearheads push on Aleppo's western outskirts",
    link=GO + "region/syria/57966-hayat-tahrir-al-sham-push-aleppo-outskirts", guid="go-57966",
    author="Region desk", tags=["Syria"], watches="HTS",
    summary="Third day of an offensive that has caught Damascus off guard.",
    paras=[
        "Fighters from Hay'at Tahrir al-Sham and allied Turkish-backed factions reached the western outskirts of Aleppo on Thursday night, the third day of an offensive that has caught Damascus off guard.",
        "Gulf diplomats said they were watching the advance with concern and urged all parties to protect civilians.",
    ])
add("GO3", "gulf-observer", "2024-11-30T15:00", "aleppo-taken",
    "Aleppo slips from government control for the first time in the war",
    link=GO + "region/syria/58004-aleppo-slips-from-government-control", guid="go-58004",
    author="Region desk", tags=["Syria"],
    summary="Rebels hold the citadel, the airport and most districts, a monitor says, as the army regroups to the south.")
add("GO4", "gulf-observer", "2024-12-01T09:00", "unrelated-yokohama",
    "Yokohama port posts record car exports to the Gulf",
    link=GO + "business/58031-yokohama-port-record-car-exports", guid="go-58031",
    author="Business desk", tags=["Business", "Japan"],
    summary="Shipments of vehicles from the Japanese port to Gulf states rose 18 percent in the year to October.")
add("GO5", "gulf-observer", "2024-12-02T07:00", "unrelated-libya-homs",
    "Libya's Homs port resumes operations after storm repairs",
    link=GO + "business/58049-libya-homs-port-resumes-operations", guid="go-58049",
    author="Business desk", tags=["Business", "Libya"], watches="Homs", false_positive="Homs",
    summary="The port of Homs, east of Tripoli, reopened to container traffic on Monday after breakwater repairs.")
add("GO6", "gulf-observer", "2024-12-02T10:30", "unrelated-hims-hers",
    "Hims & Hers shares jump on weight-loss expansion",
    link=GO + "business/58055-hims-hers-shares-jump", guid="go-58055",
    author="Business desk", tags=["Business", "Markets"], watches="Homs", false_positive="Homs",
    summary="The US telehealth company's stock rose 9 percent in early trading after it said it would widen access to its weight-loss programme.")
add("GO7", "gulf-observer", "2024-12-03T07:45", "unrelated-hamad-airport",
    "Hamad International records busiest November on record",
    link=GO + "business/58072-hamad-international-busiest-november", guid="go-58072",
    author="Business desk", tags=["Business", "Aviation"],
    summary="Doha's airport handled more than 4 million passengers last month, driven by transfer traffic and winter events.")
add("GO8", "gulf-observer", "2024-12-03T13:00", "unrelated-tariff-hts",
    "Exporters told to check HTS codes ahead of US tariff review",
    link=GO + "business/58080-exporters-check-hts-codes-tariff-review", guid="go-58080",
    author="Business desk", tags=["Business", "Trade"], watches="HTS", false_positive="HTS",
    summary="Trade lawyers say Gulf aluminium and steel exporters should confirm the Harmonized Tariff Schedule (HTS) codes on their shipments.")
add("GO9", "gulf-observer", "2024-12-04T19:30", "pay-rise",
    "Syria's Assad raises army salaries by half as rebels advance",
    link=GO + "region/syria/58121-assad-raises-army-salaries-by-half", guid="go-58121",
    author="Levant Wire", tags=["Syria"], watches="Hama HTS",
    summary=LW_PAY_RISE[0], paras=LW_PAY_RISE,
    dup="LW8", dup_kind="syndicated-wire-verbatim",
    note="Levant Wire copy, verbatim body, own headline.")
add("GO10", "gulf-observer", "2024-12-05T10:00", "unrelated-opec",
    "Opec+ pushes back output increase to April",
    link=GO + "business/58140-opec-pushes-back-output-increase", guid="go-58140",
    author="Business desk", tags=["Business", "Energy"],
    summary="The producer group agreed to delay a planned rise in oil output by three months and stretch the unwinding of cuts to the end of 2026.")
add("GO11", "gulf-observer", "2024-12-05T16:20", "hama-captured",
    "Hamah falls: rebels seize central Syrian city after week-long push",
    link=GO + "region/syria/58152-hamah-falls-rebels-seize-city", guid="go-58152",
    author="Region desk", tags=["Syria"], watches="Homs Hama HTS",
    summary="Army confirms it has repositioned its units outside the city.",
    paras=[
        "Opposition fighters led by Hay'at Tahrir al-Sham took control of Hamah on Thursday, the Syrian army confirmed, saying it had repositioned its units outside the city.",
        "The capture of Hamah gives the rebels control of a key junction on the M5 highway, which runs south to Hims and on to Damascus.",
        "Gulf governments called for restraint and the protection of civilians.",
    ])
add("GO12", "gulf-observer", "2024-12-05T21:30", "toll-dec5",
    "Observatory: 826 killed since rebel offensive began",
    link=GO + "region/syria/58166-observatory-826-killed", guid="go-58166",
    author="Region desk", tags=["Syria"],
    summary="The monitor says 111 civilians are among the dead, making it the deadliest fighting in Syria since 2020.")
add("GO13", "gulf-observer", "2024-12-06T12:30", "homs-exodus",
    "Residents stream out of Ḥimṣ as fighters edge closer",
    link=GO + "region/syria/58180-residents-stream-out-of-homs", guid="go-58180",
    author="Region desk", tags=["Syria"], watches="Homs",
    summary="Fuel prices on the western exit road have tripled, drivers say.",
    paras=[
        "Long lines of cars snaked out of Hims towards the coast on Friday as residents fled ahead of the rebel advance, witnesses said.",
        f"{HIMS_NFD}, Syria's third-largest city, sits on the main road between Damascus and the coastal provinces of Latakia and Tartus, the heartland of Bashar al-Assad's Alawite community.",
        "Fuel prices at petrol stations on the western exit road had tripled, one driver said.",
    ],
    note="Title uses NFC 'Ḥimṣ'; content_html uses 'Hims' and an NFD (decomposed) 'Ḥimṣ'.")
add("GO14", "gulf-observer", "2024-12-06T22:15", "deir-ezzor-sdf",
    "SDF fighters move into Deir ez-Zor as army pulls back",
    link=GO + "region/syria/58201-sdf-move-into-deir-ez-zor", guid="go-58201",
    author="Region desk", tags=["Syria"],
    summary="The Kurdish-led force said it had entered the eastern city to prevent a security vacuum.")
add("GO15", "gulf-observer", "2024-12-08T08:00", "damascus-falls",
    "Assad regime collapses as opposition fighters enter Damascus",
    link=GO + "region/syria/58230-assad-regime-collapses-damascus", guid="go-58230",
    author="Region desk", tags=["Syria"], watches="HTS",
    summary="The president has fled the country; state institutions to stay under the prime minister for now.",
    paras=[
        "Bashar al-Assad's government collapsed on Sunday as opposition fighters entered Damascus unopposed and the president fled the country.",
        "Hay\u2019at Tahrir al-Sham, the group at the head of the offensive, said state institutions would continue to operate under the outgoing prime minister until a handover.",
        "Gulf capitals, several of which had restored ties with Assad in recent years, said they were following developments closely.",
    ],
    note="'Hay’at' with a typographic apostrophe (U+2019).")

# ---- metro-briefs: RSS 1.0 headline-only briefs --------------------------------
add("MB1", "metro-briefs", "2024-11-27T18:00", "offensive-launch",
    "Syria: rebels launch attack near Aleppo",
    link=MB + "2024/11/27/syria-rebels-attack-aleppo", tags=["World"],
    summary="Fighting flares in Syria's north-west for the first time in years.")
add("MB2", "metro-briefs", "2024-11-29T19:00", "unrelated-tech-recall",
    "Phone maker recalls chargers over fire risk",
    link=MB + "2024/11/29/charger-recall-fire-risk", dated=False, tags=["Tech"],
    summary="Owners told to stop using the plugs immediately.")
add("MB3", "metro-briefs", "2024-11-30T13:00", "aleppo-taken",
    "Rebels seize most of Aleppo", link=MB + "2024/11/30/rebels-seize-most-of-aleppo", tags=["World"])
add("MB4", "metro-briefs", "2024-12-01T19:30", "toll-dec1",
    "Syria toll tops 400", link=MB + "2024/12/01/syria-toll-tops-400", tags=["World"])
add("MB5", "metro-briefs", "2024-12-02T06:00", "unrelated-weather-frost",
    "Frosty start, brighter later", link=MB + "2024/12/02/weather-frosty-start",
    dated=False, tags=["Weather"], summary="Cold and clear with a risk of fog patches.")
add("MB6", "metro-briefs", "2024-12-03T08:00", "unrelated-rail-strike",
    "Rail strike called off after late-night talks",
    link=MB + "2024/12/03/rail-strike-called-off", tags=["UK"],
    summary="Commuters face a normal service tomorrow.")
add("MB7", "metro-briefs", "2024-12-05T14:40", "hama-captured", DC_HAMA_TITLE,
    link=DC + "article-14163311/amp/Rebels-seize-Hama-fresh-humiliation-Assad-army-admits-lost-Syrias-fourth-city.html",
    tags=["Partner"], watches="Hama", dup="DC7", dup_kind="amp-variant",
    note="Partner link: the daily-courier Hama article via its /amp/ URL, headline only.")
add("MB8", "metro-briefs", "2024-12-06T13:30", "homs-exodus",
    "Rebels close in on Syria's third city", link=MB + "2024/12/06/rebels-close-in-syria-third-city",
    tags=["World"], summary="Tens of thousands are reported to have fled as fighters advance.",
    note="Event homs-exodus, but neither title nor summary names the city: no watch matches.")
add("MB9", "metro-briefs", "2024-12-06T17:00", "rastan-bridge-strikes",
    "Bridge bombed to slow rebel advance", link=MB + "2024/12/06/bridge-bombed-rebel-advance",
    tags=["World"], watches="Homs Hama",
    summary="Syrian and Russian jets hit the Rastan bridge between Hama and Homs.")
add("MB10", "metro-briefs", "2024-12-07T10:00", "unrelated-darts",
    "Darts: teenager books place at world championship",
    link=MB + "2024/12/07/darts-teenager-world-championship", tags=["Sport"])
add("MB11", "metro-briefs", "2024-12-08T06:30", "damascus-falls",
    "Assad flees as rebels take Damascus", link=MB + "2024/12/08/assad-flees-rebels-take-damascus",
    tags=["World"], summary="Syria's president has left the country, rebels say.")
add("MB12", "metro-briefs", "2024-12-08T12:00", "unrelated-lottery",
    "Lottery jackpot rolls over to £14m", link=MB + "2024/12/08/lottery-jackpot-rolls-over",
    dated=False, tags=["UK"])

# ---- syria-roundup: link blog on a buggy CMS ----------------------------------
add("SR1", "syria-roundup", "2024-11-27T20:00", "offensive-launch",
    "Day one: what we know about the rebel offensive",
    link=SR + "day-one-rebel-offensive", guid="sr-101", author="Rima H.", watches="HTS",
    summary="HTS and allied factions have taken a string of villages west of Aleppo. Here is what we can confirm so far, and what we cannot.")
add("SR2", "syria-roundup", "2024-11-30T11:40", "aleppo-taken",
    BY_REF["LW5"]["title"],
    link=BY_REF["LW5"]["link"] + "?utm_source=syriaroundup&utm_medium=rss&utm_campaign=daily-links",
    guid="sr-102", author="Rima H.", watches="HTS", summary=LW_ALEPPO_MOST[0],
    dup="LW5", dup_kind="tracking-params",
    note="Link post to the Levant Wire article with utm_* parameters; wire headline and lead.")
add("SR3", "syria-roundup", "2024-12-01T21:00", "unrelated-aleppo-soap",
    "Aleppo soap makers in exile see exports recover",
    link=SR + "aleppo-soap-gaziantep", guid=None, author="Omar K.",
    summary="Workshops run by Syrian families in southern Turkey say orders from Europe are back above pre-pandemic levels.",
    note="No <guid>: identity is the link.")
add("SR4", "syria-roundup", "2024-12-02T20:00", "idlib-strike-dec2",
    "Idlib strikes: rescuers count the dead in the market district",
    link=SR + "idlib-strikes-market-district", guid="sr-104", author="Omar K.",
    summary="At least 11 killed, according to civil defence teams. The strikes hit a part of the city far from any front line.")
add("SR5", "syria-roundup", "2024-12-04T08:00", "unrelated-reading-list",
    "Reading list: long reads for the weekend",
    link=SR + "reading-list-long-reads", guid="sr-105", dated=False, author="Rima H.",
    summary="Five pieces on Syrian food, music and memory that have nothing to do with the front line.",
    note="No pubDate.")
add("SR6", "syria-roundup", "2024-12-05T15:10", "hama-captured", NP_HAMA_TYPO,
    link=NP_HAMA_LINK + "#live-updates", guid="sr-106", author="Rima H.", watches="Homs",
    summary=NP_HAMA_SUMMARY, dup="NP8", dup_kind="fragment",
    note="Link post to northern-post NP8 with a #fragment, copied while NP8's title still had the "
         "'Hamma' typo and never corrected: the Hama watch does NOT match this copy (only Homs, via the summary).")
add("SR7", "syria-roundup", "2024-12-06T11:00", "homs-exodus", DC_SEED_TITLE,
    link=DC_SEED_LINK + "?utm_source=syriaroundup&utm_medium=social&utm_campaign=share&fbclid=IwAR0Zx9kQe7Lm3vRt2pYw",
    guid="sr-107", author="Omar K.", watches="Homs",
    summary="The tabloid take, but worth reading for the Observatory figures on Homs and the Rastan bridge.",
    dup="DC8", dup_kind="tracking-params",
    note="Link post to the seed article with utm_* and fbclid parameters.")
add("SR8", "syria-roundup", "2024-12-06T19:00", "rastan-bridge-strikes",
    "Rastan bridge: satellite images show cratered approach roads",
    link=SR + "rastan-bridge-satellite", guid="sr-108", author="Omar K.", watches="Homs Hama",
    summary="Imagery shared by researchers shows at least four impact craters near the bridge on the Homs-Hama road.",
    note="GUID COLLISION: guid 'sr-108' is reused by SR9 (different link, different story).")
add("SR9", "syria-roundup", "2024-12-07T09:00", "daraa-captured",
    "Daraa: where it started, and where the south now stands",
    link=SR + "daraa-where-it-started", guid="sr-108", author="Rima H.", watches="HTS",
    summary="Local factions, not HTS, took the southern city overnight.",
    note="GUID COLLISION with SR8: same guid 'sr-108', different link; both are in the same document from 2024-12-07T15:00Z on.")
add("SR10", "syria-roundup", "2024-12-08T05:40", "damascus-falls", "Damascus has fallen",
    link=SR + "damascus-has-fallen", guid="sr-110", author="Rima H.", watches="HTS",
    summary="Assad is gone. HTS fighters are in the capital and the prime minister says he will hand over. We will update through the day.")
add("SR11", "syria-roundup", "2024-12-08T16:00", "unrelated-site-note",
    "Programming note: extra editions this week",
    link=SR + "programming-note-extra-editions", guid="sr-111", dated=False, author="Omar K.",
    summary="We will publish twice a day until things settle.", note="No pubDate.")


# --------------------------------------------------------------------------
# Identity helpers
# --------------------------------------------------------------------------
def _collisions() -> set[tuple[str, str]]:
    seen: dict[tuple[str, str], int] = {}
    for e in ENTRIES:
        if e["guid"]:
            seen[(e["feed"], e["guid"])] = seen.get((e["feed"], e["guid"]), 0) + 1
    return {k for k, n in seen.items() if n > 1}


COLLIDING = _collisions()


def entry_key(e: dict) -> str:
    """guid; the link when there is no guid; 'guid|link' when a guid is reused in one feed."""
    if not e["guid"]:
        return e["link"]
    if (e["feed"], e["guid"]) in COLLIDING:
        return f"{e['guid']}|{e['link']}"
    return e["guid"]


def version_at(e: dict, snap: dt.datetime) -> dict:
    """The entry as it looks at poll time `snap` (corrections applied)."""
    v = dict(title=e["title"], paras=e["paras"], summary=e["summary"], updated=None)
    f = e["fix"]
    if f and f["at"] <= snap:
        v["title"] = f.get("title", v["title"])
        v["paras"] = f.get("paras", v["paras"])
        v["summary"] = f.get("summary", v["summary"])
        v["updated"] = f["at"]
    return v


def final_version(e: dict) -> dict:
    return version_at(e, SNAPSHOTS[-1])


def paras_html(paras: list[str]) -> str:
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paras)


def description_of(e: dict, v: dict) -> str | None:
    """Plain-text summary as published (full-text feeds fall back to the first paragraph)."""
    if v["summary"]:
        return v["summary"]
    if v["paras"]:
        return v["paras"][0]
    return None


def match_text(e: dict, v: dict) -> str:
    parts = [v["title"], description_of(e, v) or ""]
    parts += v["paras"]
    return "\n".join(parts)


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------
def rfc822(d: dt.datetime, hours: int, gmt: bool) -> str:
    if gmt:
        return format_datetime(d.astimezone(UTC), usegmt=True)
    return format_datetime(d.astimezone(tz(hours)))


def rfc3339(d: dt.datetime, hours: int) -> str:
    s = d.astimezone(tz(hours)).isoformat()
    return s.replace("+00:00", "Z")


def x(s: str) -> str:
    return xml_escape(s)


def cdata(s: str) -> str:
    assert "]]>" not in s
    return f"<![CDATA[{s}]]>"


def entry_dates(e: dict, v: dict) -> list[dt.datetime]:
    out = []
    if e["dated"]:
        out.append(e["at"])
    if v["updated"]:
        out.append(v["updated"])
    return out


def render_rss2(name: str, cfg: dict, items: list[tuple[dict, dict]], snap: dt.datetime) -> str:
    h = cfg["date_tz"]
    gmt = cfg.get("rss_gmt", False)
    dates = [d for e, v in items for d in entry_dates(e, v)]
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">',
           "  <channel>",
           f"    <title>{x(cfg['title'])}</title>",
           f"    <link>{x(cfg['site'])}</link>",
           f"    <description>{x(cfg['description'])}</description>",
           f"    <language>{cfg['language']}</language>",
           f'    <atom:link href={quoteattr(cfg["feed_url"])} rel="self" type="application/rss+xml"/>']
    if dates:
        out.append(f"    <lastBuildDate>{rfc822(max(dates), h, gmt)}</lastBuildDate>")
    if cfg.get("ttl"):
        out.append(f"    <ttl>{cfg['ttl']}</ttl>")
    for e, v in items:
        out.append("    <item>")
        out.append(f"      <title>{x(v['title'])}</title>")
        out.append(f"      <link>{x(e['link'])}</link>")
        if e["guid"]:
            perma = "true" if cfg.get("guid_permalink") else "false"
            out.append(f'      <guid isPermaLink="{perma}">{x(e["guid"])}</guid>')
        if e["dated"]:
            out.append(f"      <pubDate>{rfc822(e['at'], h, gmt)}</pubDate>")
        if e["author"]:
            out.append(f"      <dc:creator>{x(e['author'])}</dc:creator>")
        for t in e["tags"]:
            out.append(f"      <category>{x(t)}</category>")
        desc = description_of(e, v)
        if desc:
            out.append(f"      <description>{x(desc)}</description>")
        if cfg.get("full_text") and v["paras"]:
            out.append(f"      <content:encoded>{cdata(paras_html(v['paras']))}</content:encoded>")
        if v["updated"] and cfg.get("updated_element") == "atom":
            out.append(f"      <atom:updated>{rfc3339(v['updated'], 0)}</atom:updated>")
        out.append("    </item>")
    out += ["  </channel>", "</rss>", ""]
    return "\n".join(out)


def render_atom(name: str, cfg: dict, items: list[tuple[dict, dict]], snap: dt.datetime) -> str:
    h = cfg["date_tz"]
    dates = [d for e, v in items for d in entry_dates(e, v)]
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{cfg["language"]}">',
           f"  <title>{x(cfg['title'])}</title>",
           f"  <subtitle>{x(cfg['description'])}</subtitle>",
           f"  <id>{x(cfg['feed_id'])}</id>",
           f'  <link rel="alternate" type="text/html" href={quoteattr(cfg["site"])}/>',
           f'  <link rel="self" type="application/atom+xml" href={quoteattr(cfg["feed_url"])}/>',
           f"  <updated>{rfc3339(max(dates), h)}</updated>"]
    for e, v in items:
        out.append("  <entry>")
        out.append(f"    <id>{x(e['guid'])}</id>")
        out.append(f'    <title type="text">{x(v["title"])}</title>')
        out.append(f'    <link rel="alternate" type="text/html" href={quoteattr(e["link"])}/>')
        out.append(f"    <published>{rfc3339(e['at'], h)}</published>")
        out.append(f"    <updated>{rfc3339(v['updated'] or e['at'], h)}</updated>")
        if e["author"]:
            out.append(f"    <author><name>{x(e['author'])}</name></author>")
        for t in e["tags"]:
            out.append(f"    <category term={quoteattr(t)}/>")
        desc = description_of(e, v)
        if desc:
            out.append(f'    <summary type="text">{x(desc)}</summary>')
        if cfg.get("full_text") and v["paras"]:
            out.append(f'    <content type="html">{x(paras_html(v["paras"]))}</content>')
        out.append("  </entry>")
    out += ["</feed>", ""]
    return "\n".join(out)


def render_rdf(name: str, cfg: dict, items: list[tuple[dict, dict]], snap: dt.datetime) -> str:
    h = cfg["date_tz"]
    dates = [d for e, v in items for d in entry_dates(e, v)]
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
           f"  <channel rdf:about={quoteattr(cfg['feed_url'])}>",
           f"    <title>{x(cfg['title'])}</title>",
           f"    <link>{x(cfg['site'])}</link>",
           f"    <description>{x(cfg['description'])}</description>",
           f"    <dc:language>{cfg['language']}</dc:language>"]
    if dates:
        out.append(f"    <dc:date>{rfc3339(max(dates), h)}</dc:date>")
    out.append("    <items>")
    out.append("      <rdf:Seq>")
    for e, _ in items:
        out.append(f"        <rdf:li rdf:resource={quoteattr(e['link'])}/>")
    out += ["      </rdf:Seq>", "    </items>", "  </channel>"]
    for e, v in items:
        out.append(f"  <item rdf:about={quoteattr(e['link'])}>")
        out.append(f"    <title>{x(v['title'])}</title>")
        out.append(f"    <link>{x(e['link'])}</link>")
        if v["summary"]:
            out.append(f"    <description>{x(v['summary'])}</description>")
        if e["dated"]:
            out.append(f"    <dc:date>{rfc3339(e['at'], h)}</dc:date>")
        for t in e["tags"]:
            out.append(f"    <dc:subject>{x(t)}</dc:subject>")
        out.append("  </item>")
    out += ["</rdf:RDF>", ""]
    return "\n".join(out)


def render_json(name: str, cfg: dict, items: list[tuple[dict, dict]], snap: dt.datetime) -> str:
    h = cfg["date_tz"]
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": cfg["title"],
        "home_page_url": cfg["site"],
        "feed_url": cfg["feed_url"],
        "description": cfg["description"],
        "language": cfg["language"],
        "authors": [{"name": "Gulf Observer", "url": cfg["site"]}],
        "items": [],
    }
    for e, v in items:
        it = {"id": e["guid"], "url": e["link"], "title": v["title"]}
        if v["summary"]:
            it["summary"] = v["summary"]
        if v["paras"]:
            it["content_html"] = paras_html(v["paras"])
        else:
            it["content_text"] = v["summary"] or v["title"]
        if e["dated"]:
            it["date_published"] = rfc3339(e["at"], h)
        if v["updated"]:
            it["date_modified"] = rfc3339(v["updated"], h)
        if e["author"]:
            it["authors"] = [{"name": e["author"]}]
        if e["tags"]:
            it["tags"] = e["tags"]
        doc["items"].append(it)
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


RENDER = {"rss2": render_rss2, "atom": render_atom, "rdf": render_rdf, "json": render_json}


def window(feed: str, snap: dt.datetime) -> list[dict]:
    cfg = FEEDS[feed]
    live = [e for e in ENTRIES if e["feed"] == feed and e["at"] <= snap]
    live.sort(key=lambda e: e["at"], reverse=True)
    return live[: cfg["window"]]


def plan() -> dict[int, dict[str, list[dict]]]:
    """snapshot index -> feed -> entries in the document (newest first)."""
    out: dict[int, dict[str, list[dict]]] = {}
    last = len(SNAPSHOTS) - 1
    for i, snap in enumerate(SNAPSHOTS):
        out[i] = {}
        for feed, cfg in FEEDS.items():
            if i != last and i in cfg["absent"]:
                continue
            w = window(feed, snap)
            if w:
                out[i][feed] = w
    return out


def render_all() -> dict[str, str]:
    """relative path -> file text, for every generated file."""
    files: dict[str, str] = {}
    for i, feeds in plan().items():
        snap = SNAPSHOTS[i]
        for feed, es in feeds.items():
            cfg = FEEDS[feed]
            items = [(e, version_at(e, snap)) for e in es]
            files[f"timeline/{snap_name(snap)}/{feed}.{cfg['ext']}"] = RENDER[cfg["format"]](feed, cfg, items, snap)
    exp = expected()
    files["expected.json"] = json.dumps(exp, ensure_ascii=False, indent=2) + "\n"
    files["../tests/data/seeds_expected.md"] = expected_md(exp)
    return files


# --------------------------------------------------------------------------
# Expected outcome
# --------------------------------------------------------------------------
def canonical(e: dict) -> dict:
    while e["dup"]:
        e = BY_REF[e["dup"]]
    return e


def expected() -> dict:
    p = plan()
    seen: dict[str, list[int]] = {}
    for i, feeds in p.items():
        for es in feeds.values():
            for e in es:
                seen.setdefault(e["ref"], []).append(i)
    last = len(SNAPSHOTS) - 1
    entries = []
    for e in ENTRIES:
        v = final_version(e)
        row = {
            "ref": e["ref"],
            "feed": e["feed"],
            "key": entry_key(e),
            "guid": e["guid"],
            "link": e["link"],
            "title": v["title"],
            "published": rfc3339(e["at"], 0) if e["dated"] else None,
            "updated": rfc3339(v["updated"], 0) if v["updated"] else None,
            "event": e["event"],
            "event_kind": EVENTS[e["event"]][0],
            "duplicate_of": None,
            "duplicate_kind": None,
            "watches": e["watches"],
            "false_positive_watches": e["false_positive"],
            "first_snapshot": snap_name(SNAPSHOTS[seen[e["ref"]][0]]),
            "last_snapshot": snap_name(SNAPSHOTS[seen[e["ref"]][-1]]),
            "in_last_snapshot": last in seen[e["ref"]],
        }
        if e["fix"]:
            row["title_history"] = [
                {"title": e["title"], "until": rfc3339(e["fix"]["at"], 0)},
                {"title": v["title"], "from": rfc3339(e["fix"]["at"], 0)},
            ]
        if e["dup"]:
            o = canonical(e)
            row["duplicate_of"] = {"ref": o["ref"], "feed": o["feed"], "key": entry_key(o),
                                   "guid": o["guid"], "link": o["link"]}
            row["duplicate_kind"] = e["dup_kind"]
        if e["note"]:
            row["note"] = e["note"]
        entries.append(row)

    events_seen = sorted({e["event"] for e in ENTRIES})
    kinds = {k: sorted(ev for ev in events_seen if EVENTS[ev][0] == k)
             for k in ("interest", "hard-negative", "context", "unrelated")}
    per_watch = {}
    for w in WATCHES:
        hits = [e for e in ENTRIES if w in e["watches"]]
        true_hits = [e for e in hits if w not in e["false_positive"]]
        per_watch[w] = {
            "entries": len(hits),
            "entries_excluding_false_positives": len(true_hits),
            "articles": len({canonical(e)["ref"] for e in hits}),
            "stories": sorted({e["event"] for e in hits}),
            "false_positive_refs": sorted((e["ref"] for e in hits if w in e["false_positive"]),
                                          key=_refsort),
        }
    counts = {
        "feeds": len(FEEDS),
        "snapshots": len(SNAPSHOTS),
        "entries": len({(e["feed"], entry_key(e)) for e in ENTRIES}),
        "entries_in_last_snapshot": sum(len(es) for es in p[last].values()),
        "duplicates": sum(1 for e in ENTRIES if e["dup"]),
        "articles": len({canonical(e)["ref"] for e in ENTRIES}),
        "stories": len(events_seen),
        "stories_of_interest": len(kinds["interest"]),
        "stories_negative": len(events_seen) - len(kinds["interest"]),
        "entries_without_date": sum(1 for e in ENTRIES if not e["dated"]),
        "entries_without_guid": sum(1 for e in ENTRIES
                                    if not e["guid"] and FEEDS[e["feed"]]["format"] != "rdf"),
        "rdf_entries_identified_by_link": sum(1 for e in ENTRIES if FEEDS[e["feed"]]["format"] == "rdf"),
        "guid_collisions": len(COLLIDING),
        "corrections": sum(1 for e in ENTRIES if e["fix"]),
    }
    story_articles = {}
    for ev in events_seen:
        es = [e for e in ENTRIES if e["event"] == ev]
        story_articles[ev] = {
            "kind": EVENTS[ev][0], "date": EVENTS[ev][1], "about": EVENTS[ev][2],
            "entries": len(es), "articles": len({canonical(e)["ref"] for e in es}),
            "feeds": sorted({e["feed"] for e in es}),
            "refs": [e["ref"] for e in es],
        }
    return {
        "about": "Expected outcome for seeds/timeline, generated by seeds/build.py. See seeds/README.md.",
        "identity": ("An entry is (feed, key). key = guid; the link when the item has no guid (RSS 1.0 items "
                     "are identified by rdf:about = link); 'guid|link' when a feed reuses one guid for "
                     "different links (syria-roundup sr-108). A correction keeps its key."),
        "dedup": ("An article is an entry after same-article dedup: duplicate_of points at the canonical "
                  "entry (verbatim or near-verbatim syndicated wire copy, tracking-parameter / fragment / "
                  "amp repost). A story is an event label; every negative is its own story."),
        "matching": ("watches = what a case-insensitive, word-bounded, alias-aware matcher reports over title + "
                     "summary/description + content with HTML removed, after NFC normalisation and with "
                     "typographic apostrophes folded to '. false_positive_watches = lexical hits on "
                     "something else (another Homs, a brand, an acronym)."),
        "watches": WATCHES,
        "counts": counts,
        "watch_counts": per_watch,
        "events": story_articles,
        "snapshots": [snap_name(s) for s in SNAPSHOTS],
        "entries": entries,
    }


def _refsort(ref: str):
    m = re.match(r"([A-Z]+)(\d+)", ref)
    return (m.group(1), int(m.group(2)))


def expected_md(exp: dict) -> str:
    c = exp["counts"]
    lines = [
        "# Expected outcome of the seeds world",
        "",
        "Generated by `seeds/build.py` from the same data as `seeds/expected.json` — edit the script, not this file.",
        "",
        "## Counts",
        "",
        "| what | n |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in c.items()]
    lines += ["", "## Watches", "", "| watch | entries | articles | false positives | stories |", "|---|---|---|---|---|"]
    for w, d in exp["watch_counts"].items():
        lines.append(f"| {w} | {d['entries']} | {d['articles']} | {', '.join(d['false_positive_refs']) or '-'} | "
                     f"{', '.join(d['stories'])} |")
    lines += ["", "## Stories", "", "| event | kind | date | entries | articles | refs |", "|---|---|---|---|---|---|"]
    for ev, d in exp["events"].items():
        lines.append(f"| {ev} | {d['kind']} | {d['date']} | {d['entries']} | {d['articles']} | {' '.join(d['refs'])} |")
    lines += ["", "## Entries", "",
              "| ref | feed | key | event | duplicate of | watches | first seen | title |",
              "|---|---|---|---|---|---|---|---|"]
    for r in exp["entries"]:
        dup = f"{r['duplicate_of']['ref']} ({r['duplicate_kind']})" if r["duplicate_of"] else ""
        w = " ".join(r["watches"]) + (f" (false +: {' '.join(r['false_positive_watches'])})"
                                       if r["false_positive_watches"] else "")
        title = r["title"].replace("|", "\\|")
        key = r["key"].replace("|", "\\|")
        lines.append(f"| {r['ref']} | {r['feed']} | `{key}` | {r['event']} | {dup} | {w} | "
                     f"{r['first_snapshot']} | {title} |")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------
def check_world() -> list[str]:
    problems = []
    p = plan()
    last = len(SNAPSHOTS) - 1
    if set(p[last]) != set(FEEDS):
        problems.append(f"last snapshot lacks feeds: {set(FEEDS) - set(p[last])}")
    shown = {e["ref"] for feeds in p.values() for es in feeds.values() for e in es}
    for e in ENTRIES:
        if e["ref"] not in shown:
            problems.append(f"{e['ref']}: never appears in any snapshot")
        if e["at"].year != 2024 or not (SNAPSHOTS[0] - dt.timedelta(days=1) <= e["at"] <= SNAPSHOTS[-1]):
            problems.append(f"{e['ref']}: date out of range")
        if e["fix"] and e["fix"]["at"] <= e["at"]:
            problems.append(f"{e['ref']}: correction before publication")
        if e["dup"] and (e["dup"] not in BY_REF or BY_REF[e["dup"]]["at"] > e["at"]):
            problems.append(f"{e['ref']}: bad duplicate_of {e['dup']}")
        versions = [version_at(e, e["at"])] + ([final_version(e)] if e["fix"] else [])
        for v in versions:
            got = reference_watches(match_text(e, v))
            if got != sorted(e["watches"], key=list(WATCHES).index):
                problems.append(f"{e['ref']}: declared watches {e['watches']} but text gives {got}")
        for w in e["false_positive"]:
            if w not in e["watches"]:
                problems.append(f"{e['ref']}: false positive {w} not in watches")
        for u in (e["link"],):
            host = re.match(r"https://([^/]+)/", u).group(1)
            if not host.endswith(".example"):
                problems.append(f"{e['ref']}: non-.example host {host}")
    keys = [(e["feed"], entry_key(e)) for e in ENTRIES]
    if len(keys) != len(set(keys)):
        problems.append("duplicate (feed, key)")
    return problems


def check_files(root: Path) -> list[str]:
    """Well-formedness, dates <= snapshot; feedparser bozo == 0 when available."""
    problems = []
    try:
        import feedparser  # type: ignore
    except ImportError:  # stdlib-only environments still get the XML/JSON check
        feedparser = None
    for path in sorted((root / "timeline").glob("*/*")):
        snap = dt.datetime.strptime(path.parent.name, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        raw = path.read_bytes()
        if path.suffix == ".json":
            doc = json.loads(raw)
            if doc.get("version") != "https://jsonfeed.org/version/1.1":
                problems.append(f"{path}: bad JSON Feed version")
        else:
            minidom.parseString(raw)
        if feedparser is not None:
            d = feedparser.parse(raw)
            if path.suffix != ".json" and d.bozo:
                problems.append(f"{path}: bozo {d.bozo_exception!r}")
            for en in d.entries:
                for k in ("published_parsed", "updated_parsed"):
                    t = en.get(k)
                    if t and dt.datetime(*t[:6], tzinfo=UTC) > snap:
                        problems.append(f"{path}: {en.get('id')} {k} after snapshot")
                    if t and t[0] != 2024:
                        problems.append(f"{path}: {en.get('id')} {k} not in 2024")
        for m in re.finditer(rb"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)", raw):
            s = m.group().decode().replace("Z", "+00:00")
            if dt.datetime.fromisoformat(s) > snap:
                problems.append(f"{path}: {s} after snapshot")
    return problems


def main(argv: list[str]) -> int:
    problems = check_world()
    if problems:
        print("build: world is inconsistent:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    files = render_all()
    if "--check" in argv:
        stale = [rel for rel, text in files.items()
                 if not (HERE / rel).exists() or (HERE / rel).read_text(encoding="utf-8") != text]
        on_disk = {str(p.relative_to(HERE)) for p in (TIMELINE).glob("*/*")}
        extra = on_disk - {rel for rel in files if rel.startswith("timeline/")}
        problems = [f"stale: {r}" for r in stale] + [f"unexpected: {r}" for r in sorted(extra)]
        problems += check_files(HERE)
        if problems:
            print("build --check:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print(f"build --check: {len(files)} files up to date and valid")
        return 0
    if TIMELINE.exists():
        shutil.rmtree(TIMELINE)
    for rel, text in files.items():
        path = (HERE / rel).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    problems = check_files(HERE)
    if problems:
        print("build: generated files failed checks:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    c = expected()["counts"]
    print(f"build: wrote {len(files)} files; {c['entries']} entries, {c['articles']} articles, "
          f"{c['stories']} stories")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
