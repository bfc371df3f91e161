#!/usr/bin/env python3
"""Build benchmarks/data/events.jsonl: a labelled story-clustering set.

Written for the monitor project; released under CC0.  Stdlib only and fully
deterministic (every random choice comes from random.Random seeded with a
string), so running it twice gives byte-identical output.

The facts of each event are hand-written in events_syria.py and
events_world.py.  Sentences are written in a small "spintax" notation:
``[a|b|c]`` picks one alternative (nesting allowed) and ``{slot}`` inserts an
event slot.  Each article of an event is written by a different fictional
outlet, which picks its own headline, lead, subset and order of facts, length
and house style (casing, dateline, transliteration of Syrian place names).

Usage:  python3 benchmarks/data/build_events.py [--out PATH]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from events_syria import EVENTS as SYRIA  # noqa: E402
from events_world import EVENTS as WORLD  # noqa: E402
from event_kinds import KIND_HEADS, KIND_LEADS  # noqa: E402

# --------------------------------------------------------------------------
# Outlets (all fictional, .example domains)
# --------------------------------------------------------------------------
# style keys:
#   case     "title" (Title Case headlines) or "sentence"
#   dateline None | "wire" | "plain"
#   tag      short agency tag used in datelines / syndication credits
#   dates    "uk" (30 November) or "us" (Nov. 30)
#   translit list of (pattern, replacement) applied to Syria items
#   arabic   add Arabic script after the first mention of big Syrian cities
#   prefix   headline prefix with the country ("Syria: ...")
#   lens     preferred length weights (headline, summary, full)
OUTLETS = {
    "Atlas News Agency": dict(domain="atlasnews.example", case="sentence", dateline="wire", tag="Atlas",
                              dates="us", wire=True, lens=(1, 1, 4)),
    "Meridian Wire": dict(domain="meridianwire.example", case="sentence", dateline="wire", tag="Meridian",
                          dates="uk", wire=True, lens=(1, 2, 4)),
    "The Northbridge Herald": dict(domain="northbridgeherald.example", case="sentence", dateline=None,
                                   dates="uk", lens=(1, 1, 3)),
    "Daily Courier": dict(domain="dailycourier.example", case="title", dateline=None, dates="us",
                          lens=(3, 2, 1)),
    "Levant Observer": dict(domain="levantobserver.example", case="sentence", dateline="plain", dates="uk",
                            translit=[(r"\bHama\b", "Hamah"), (r"\bHoms\b", "Hims"),
                                      (r"\bDeir ez-Zor\b", "Deir al-Zour"), (r"\bIdlib\b", "Idleb")],
                            arabic=True, lens=(1, 2, 3)),
    "Global Dispatch": dict(domain="globaldispatch.example", case="title", dateline="plain", dates="us",
                            lens=(2, 1, 3)),
    "Capital Ledger": dict(domain="capitalledger.example", case="sentence", dateline=None, dates="uk",
                           lens=(1, 2, 3)),
    "Harbour Times": dict(domain="harbourtimes.example", case="sentence", dateline=None, dates="uk",
                          lens=(2, 2, 2)),
    "Pacific Bulletin": dict(domain="pacificbulletin.example", case="title", dateline=None, dates="us",
                             lens=(2, 2, 2)),
    "Continental Review": dict(domain="continentalreview.example", case="sentence", dateline="plain",
                               dates="uk", lens=(1, 1, 3)),
    "Frontline Report": dict(domain="frontlinereport.example", case="sentence", dateline=None, dates="uk",
                             translit=[(r"\bDaraa\b", "Deraa")], lens=(2, 2, 2)),
    "Metro Chronicle": dict(domain="metrochronicle.example", case="title", dateline=None, dates="us",
                            lens=(2, 2, 1)),
    "World Brief": dict(domain="worldbrief.example", case="sentence", dateline=None, dates="uk",
                        prefix=True, lens=(4, 3, 0)),
    "Signal Daily": dict(domain="signaldaily.example", case="title", dateline=None, dates="us",
                         lens=(2, 2, 2)),
    "Crescent Post": dict(domain="crescentpost.example", case="sentence", dateline="plain", dates="uk",
                          translit=[(r"\bHayat Tahrir al-Sham\b", "Hay'at Tahrir al-Sham"),
                                    (r"\bDeir ez-Zor\b", "Deir Ezzor")], lens=(1, 2, 3)),
    "Riverbend Gazette": dict(domain="riverbendgazette.example", case="title", dateline=None, dates="us",
                              lens=(1, 1, 2)),
}
GENERAL_OUTLETS = [o for o in OUTLETS if o != "Riverbend Gazette"]

ARABIC = {"Aleppo": "حلب", "Hamah": "حماة", "Hama": "حماة", "Hims": "حمص", "Homs": "حمص",
          "Damascus": "دمشق", "Daraa": "درعا", "Idleb": "إدلب", "Idlib": "إدلب"}

SMALL = {"a", "an", "the", "and", "but", "or", "for", "nor", "on", "at", "to", "from", "by", "of",
         "in", "as", "with", "over", "after", "into", "vs", "per", "via"}

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS_UK = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
MONTHS_US = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.",
             "Nov.", "Dec."]

# --------------------------------------------------------------------------
# Spintax
# --------------------------------------------------------------------------
SLOT_RE = re.compile(r"\{(\w+)\}")


def fill_slots(s: str, slots: dict) -> str:
    for _ in range(4):
        new = SLOT_RE.sub(lambda m: str(slots[m.group(1)]), s)
        if new == s:
            break
        s = new
    return s


def spin(s: str, rng: random.Random) -> str:
    """Expand [a|b|c] alternatives, innermost first."""
    pat = re.compile(r"\[([^\[\]]*)\]")
    while True:
        m = pat.search(s)
        if not m:
            break
        opts = m.group(1).split("|")
        s = s[:m.start()] + rng.choice(opts) + s[m.end():]
    s = re.sub(r"[ \t]+", " ", s)
    s = re.sub(r" ([,.;:])", r"\1", s)
    return s.strip()


def render(s: str, slots: dict, rng: random.Random) -> str:
    out = spin(fill_slots(s, slots), rng)
    return out[:1].upper() + out[1:] if out else out


def titlecase(s: str) -> str:
    words = s.split(" ")
    out = []
    for i, w in enumerate(words):
        if i and w.lower() in SMALL:
            out.append(w.lower())
        elif w[:1].islower():
            out.append(w[:1].upper() + w[1:])
        else:
            out.append(w)
    return " ".join(out)


def slugify(s: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")
    return "-".join(s.split("-")[:9])


def words(s: str) -> int:
    return len(s.split())


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------
def parse_t(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M").replace(tzinfo=dt.timezone.utc)


def length_plan(n: int, rng: random.Random, outlets: list[str], wire_n: int) -> list[str]:
    """Assign lengths: roughly 30% headline, 30% summary, 40% full; respect outlet habits."""
    base = ["full"] * round(n * 0.4) + ["summary"] * round(n * 0.3)
    base += ["headline"] * (n - len(base))
    base = base[:n]
    while len(base) < n:
        base.append("headline")
    plan = [None] * n
    # syndicated copies (last wire_n slots) are always full
    for k in range(n - wire_n, n):
        plan[k] = "full"
        if "full" in base:
            base.remove("full")
        else:
            base.remove(base[-1])
    # give each remaining outlet the remaining length it likes best
    order = list(range(n - wire_n))
    rng.shuffle(order)
    for k in order:
        prefs = OUTLETS[outlets[k]]["lens"]
        best = max(sorted(set(base)), key=lambda L: (prefs[("headline", "summary", "full").index(L)]
                                             + rng.random() * 1.5))
        plan[k] = best
        base.remove(best)
    # at least one full article per event, so every event has a text
    if "full" not in plan[: n - wire_n] and not wire_n:
        for k in order:
            if OUTLETS[outlets[k]]["lens"][2] > 0:
                plan[k] = "full"
                break
    return plan


def pick_unique(pool: list[str], used: set, slots: dict, rng: random.Random, tries: int = 40) -> str:
    """Render a template from pool that differs from everything already used.

    Templates not yet used by this event are preferred, so two outlets rarely
    share a headline or lead skeleton."""
    cands = list(pool)
    rng.shuffle(cands)
    fresh = [c for c in cands if ("T:" + c) not in used]
    order = fresh + [c for c in cands if c not in fresh]
    best = None
    for t in range(tries):
        tpl = order[t % len(order)]
        txt = render(tpl, slots, rng)
        key = txt.lower()
        if key not in used:
            used.add(key)
            used.add("T:" + tpl)
            return txt
        best = txt
    return best


def make_paragraphs(sents: list[str], rng: random.Random) -> list[str]:
    paras, cur = [], []
    for s in sents:
        cur.append(s)
        if len(cur) >= 2 or (len(cur) == 1 and rng.random() < 0.55):
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    while len(paras) > 7:  # 3-8 paragraphs (a dateline never adds one)
        k = min(range(1, len(paras) - 1), key=lambda i: len(paras[i]) + len(paras[i + 1]))
        paras[k:k + 2] = [paras[k] + " " + paras[k + 1]]
    return paras


def outlet_style(text: str, outlet: str, ev: dict, is_title: bool) -> str:
    st = OUTLETS[outlet]
    if ev.get("syria"):
        for pat, rep in st.get("translit", []):
            text = re.sub(pat, rep, text)
        if st.get("arabic") and not is_title:
            for name, ar in ARABIC.items():
                m = re.search(r"\b%s\b" % re.escape(name), text)
                if m:
                    text = text[:m.end()] + f" ({ar})" + text[m.end():]
                    break
    return text


def date_str(d: dt.date, outlet: str) -> str:
    if OUTLETS[outlet]["dates"] == "uk":
        return f"{d.day} {MONTHS_UK[d.month - 1]}"
    return f"{MONTHS_US[d.month - 1]} {d.day}"


def base_slots(ev: dict) -> dict:
    slots = {"country": ev.get("country", "")}
    slots.update(ev.get("slots", {}))
    return slots


def preflight(ev: dict) -> None:
    """Render every template of an event once, so a missing slot fails loudly."""
    slots = base_slots(ev)
    slots.update(day="Monday", date="1 December")
    upd = ev.get("update") or {}
    slots.update(upd.get("slots", {}))
    kind = ev["kind"]
    pools = [ev.get("heads", []), ev.get("leads", []), ev["facts"], ev.get("quotes", []), ev.get("bg", []),
             upd.get("heads", []), upd.get("leads", []), upd.get("facts", [])]
    if not ev.get("own_only"):
        pools += [KIND_HEADS.get(kind, []), KIND_LEADS.get(kind, [])]
    for pool in pools:
        for t in pool:
            try:
                out = render(t, slots, random.Random(0))
            except KeyError as e:
                raise SystemExit(f"{ev['label']}: missing slot {e} in {t!r}")
            if "[" in out or "]" in out or "{" in out:
                raise SystemExit(f"{ev['label']}: unbalanced spintax in {t!r}")


def build_event(num: int, ev: dict) -> list[dict]:
    eid = f"e{num:03d}"
    rng = random.Random(f"plan/{ev['label']}")
    n = ev["n"]
    wire_n = ev.get("wire", 0)
    pool = list(ev.get("outlets") or GENERAL_OUTLETS)
    # originals first, syndicated copies last; a wire outlet must write the original
    own_n = n - wire_n
    if wire_n:
        wires = [o for o in pool if OUTLETS[o].get("wire")]
        src_outlet = rng.choice(wires)
        rest = [o for o in pool if o != src_outlet]
        rng.shuffle(rest)
        outlets = [src_outlet] + rest[: own_n - 1]
        synd = [o for o in rest[own_n - 1:] if not OUTLETS[o].get("wire")][:wire_n]
        outlets += synd
    else:
        rng.shuffle(pool)
        outlets = pool[:n]
    assert len(set(outlets)) == n, (ev["label"], outlets)
    lengths = length_plan(n, rng, outlets, wire_n)
    if wire_n:
        lengths[0] = "full"
        if "full" not in lengths[1:own_n] and own_n > 1:
            pass

    t0 = parse_t(ev["t0"])
    span = ev.get("span_h", 20)
    offsets = sorted(rng.uniform(0.3, span) for _ in range(own_n))
    event_day = dt.date.fromisoformat(ev["date"])
    upd = ev.get("update")

    kind = ev["kind"]
    heads_pool = list(ev.get("heads", [])) + (KIND_HEADS.get(kind, []) if not ev.get("own_only") else [])
    leads_pool = list(ev.get("leads", [])) + (KIND_LEADS.get(kind, []) if not ev.get("own_only") else [])
    used_heads: set = set()
    used_leads: set = set()
    used_sents: set = set()
    arts = []
    for j in range(own_n):
        outlet = outlets[j]
        arng = random.Random(f"{ev['label']}/{j}/{outlet}")
        when = t0 + dt.timedelta(hours=offsets[j])
        when = when.replace(minute=arng.randrange(60), second=0)
        is_upd = bool(upd) and offsets[j] >= upd["after_h"]
        slots = base_slots(ev)
        day_ref = when.date() if (is_upd or when.date() < event_day) else event_day
        slots["day"] = WEEKDAYS[day_ref.weekday()]
        slots["date"] = date_str(day_ref, outlet)
        if is_upd:
            slots.update(upd.get("slots", {}))
        L = lengths[j]

        hp = (upd.get("heads", []) + heads_pool[:3]) if is_upd and upd.get("heads") else heads_pool
        title = pick_unique(hp, used_heads, slots, arng)
        if OUTLETS[outlet].get("prefix") and ev.get("country"):
            title = f"{ev['country']}: {title[:1].lower() + title[1:] if not title[:2].isupper() else title}"
            title = title.replace(": " + title.split(": ", 1)[1], ": " + title.split(": ", 1)[1][:1].upper()
                                  + title.split(": ", 1)[1][1:])
        if is_upd and OUTLETS[outlet].get("wire") and arng.random() < 0.6:
            title = f"UPDATE {arng.randint(1, 3)}-" + title
        if OUTLETS[outlet]["case"] == "title":
            title = titlecase(title)
        title = outlet_style(title, outlet, ev, True)

        text = ""
        if L != "headline":
            lp = (upd["leads"] + []) if is_upd and upd.get("leads") else leads_pool
            lead = pick_unique(lp, used_leads, slots, arng)
            facts = list(ev["facts"])
            if is_upd:
                facts = list(upd.get("facts", [])) + facts
            if L == "summary":
                sents = [lead]
                if arng.random() < 0.5:
                    extra = render(arng.choice(facts[:4]), slots, arng)
                    sents.append(extra)
                text = " ".join(sents)
            else:
                body = []
                k_first = min(len(facts), arng.randint(2, 3))
                first = facts[:k_first]
                rest = facts[k_first:]
                arng.shuffle(first)
                arng.shuffle(rest)
                keep = len(rest) if len(facts) <= 5 else arng.randint(min(len(rest), max(2, len(rest) - 3)), len(rest))
                chosen = first + rest[:keep]
                for f in chosen:
                    s = render(f, slots, arng)
                    for _ in range(6):
                        if s.lower() not in used_sents:
                            break
                        s = render(f, slots, arng)
                    used_sents.add(s.lower())
                    body.append(s)
                quotes = list(ev.get("quotes", []))
                arng.shuffle(quotes)
                n_q = arng.randint(1, max(1, len(quotes)))
                for q in quotes[:n_q]:
                    pos = arng.randint(1, max(1, len(body)))
                    body.insert(pos, render(q, slots, arng))
                bgs = list(ev.get("bg", []))
                arng.shuffle(bgs)
                n_b = arng.randint(1, max(1, len(bgs)))
                body += [render(b, slots, arng) for b in bgs[:n_b]]
                # pad short write-ups with unused material, keep within 120-500 words
                spare = [f for f in facts if f not in chosen] + quotes[n_q:] + bgs[n_b:]
                while words(lead + " " + " ".join(body)) < 130 and spare:
                    s = render(spare.pop(0), slots, arng)
                    body.insert(arng.randint(1, len(body)), s)
                while words(lead + " " + " ".join(body)) > 480 and len(body) > 3:
                    body.pop(arng.randrange(1, len(body)))
                paras = make_paragraphs([lead] + body, arng)
                st = OUTLETS[outlet]
                place = arng.choice(ev.get("datelines", ["BEIRUT"]))
                if st["dateline"] == "wire":
                    paras[0] = f"{place} ({st['tag']}) — " + paras[0]
                elif st["dateline"] == "plain" and arng.random() < 0.7:
                    paras[0] = f"{place.split(',')[0].title()}: " + paras[0] if arng.random() < 0.3 \
                        else f"{place} — " + paras[0]
                text = "\n\n".join(paras)
        text = outlet_style(text, outlet, ev, False)
        arts.append(dict(j=j, outlet=outlet, when=when, title=title, text=text, length=L))

    # syndicated near-verbatim copies of the wire original
    if wire_n:
        src = arts[0]
        srng = random.Random(f"synd/{ev['label']}")
        for k in range(wire_n):
            outlet = outlets[own_n + k]
            slots = base_slots(ev)
            slots["day"] = WEEKDAYS[event_day.weekday()]
            slots["date"] = date_str(event_day, outlet)
            title = pick_unique(heads_pool, used_heads, slots, srng)
            if OUTLETS[outlet]["case"] == "title":
                title = titlecase(title)
            tag = OUTLETS[src["outlet"]]["tag"]
            body = src["text"].split("\n\n")
            body[0] = re.sub(r"^.*?\(%s\) — " % tag, "", body[0])
            if srng.random() < 0.5 and len(body) > 3 and words(" ".join(body[:-1])) >= 130:
                body = body[:-1]          # subscriber trims the tail
            if srng.random() < 0.5:
                body[0] = f"({src['outlet']}) " + body[0]
                text = "\n\n".join(body)
            else:
                text = "\n\n".join(body) + f"\n\n— {src['outlet']}"
            when = src["when"] + dt.timedelta(minutes=srng.randint(20, 240))
            arts.append(dict(j=own_n + k, outlet=outlet, when=when, title=title, text=text,
                             length="full", synd_of=f"{eid}-a01"))

    arts.sort(key=lambda a: (a["when"], a["j"]))
    out = []
    for i, a in enumerate(arts, 1):
        d = a["when"]
        dom = OUTLETS[a["outlet"]]["domain"]
        url = f"https://{dom}/{ev.get('section', 'world')}/{d:%Y/%m/%d}/{slugify(a['title'])}"
        out.append({
            "id": f"{eid}-a{i:02d}",
            "event": ev["label"],
            "kind": kind,
            "source": a["outlet"],
            "url": url,
            "published": d.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": a["title"],
            "text": a["text"],
            "length": a["length"],
            "_synd": a.get("synd_of") is not None,
            "_j": a["j"],
        })
    # fix synd reference ids after sorting (original is j == 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "events.jsonl"))
    args = ap.parse_args()
    events = SYRIA + WORLD
    labels = [e["label"] for e in events]
    assert len(labels) == len(set(labels)), "duplicate event label"
    for ev in events:
        preflight(ev)
    rows = []
    synd = []
    for num, ev in enumerate(events, 1):
        arts = build_event(num, ev)
        orig = next(a["id"] for a in arts if a["_j"] == 0)
        for a in arts:
            if a.pop("_synd"):
                synd.append((a["id"], orig))
            a.pop("_j")
        rows.extend(arts)
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "events_syndicated.tsv"), "w", encoding="utf-8") as fh:
        fh.write("copy_id\toriginal_id\n")
        for c, o in synd:
            fh.write(f"{c}\t{o}\n")
    print(f"wrote {len(rows)} articles in {len(events)} events to {args.out}")


if __name__ == "__main__":
    main()
