"""A realistic, deterministic news corpus for the pipeline benchmark.

``Corpus(CorpusSpec(feeds=300))`` makes ``feeds`` outlets' feeds, each RSS 2.0
(``content:encoded`` or HTML in ``description``) or Atom 1.0 (``content
type="html"``), with 20-100 entries of 0.5-3 KB of HTML (paragraphs, links,
images, quotes, lists, entities).  A share of the feeds is marked to be served
gzip-compressed (:attr:`FeedDoc.gzip`).

The entries are news: every entry reports one of a set of *events* (an event
kind in a place, with an actor and a day), in words drawn from that kind's
vocabulary, the event's names and general news filler.  Several outlets
report each event, so story clustering has real work to do; and, as in real
news, a share of entries are wire copy that other outlets republish
(identical body under a new headline: level-1 content dedup), lightly edited
(a credit line added, the last paragraph cut: level-2 near-duplicates) or the
same article URL with tracking parameters (level-1 URL dedup).

:meth:`Corpus.add_entries` is what the server's "change" does: a feed gains a
few new entries at its top and drops as many from its bottom, so its size
stays put.  Everything is a function of the spec's ``seed``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

__all__ = ["CorpusSpec", "Corpus", "FeedDoc", "EntryDoc", "WATCH_PLACES"]

# ------------------------------------------------------------------ the world

PLACES = (
    "Aleppo Homs Hama Idlib Raqqa Deir-ez-Zor Latakia Tartus Daraa Palmyra Mosul Kirkuk Basra Erbil Fallujah "
    "Tikrit Ramadi Najaf Karbala Sulaymaniyah Gaziantep Kilis Hatay Adana Mersin Beirut Tripoli Sidon Tyre "
    "Baalbek Amman Irbid Zarqa Aqaba Jerash Gaza Hebron Nablus Jenin Ramallah Haifa Jaffa Tiberias Eilat "
    "Cairo Alexandria Giza Luxor Aswan Port-Said Suez Ismailia Benghazi Misrata Sirte Tobruk Derna Sabha "
    "Tunis Sfax Sousse Kairouan Gabes Algiers Oran Constantine Annaba Blida Rabat Casablanca Fez Marrakesh "
    "Tangier Agadir Khartoum Omdurman Kassala Port-Sudan Nyala Sanaa Aden Taiz Hodeidah Marib Mukalla "
    "Kabul Herat Kandahar Mazar Jalalabad Kunduz Tehran Isfahan Shiraz Tabriz Mashhad Ahvaz Kerman"
).split()
#: the places the benchmark's watches look for (a few percent of entries)
WATCH_PLACES = ("Homs", "Mosul", "Benghazi", "Taiz")

ACTORS = (
    "the interior ministry|the army|the defence ministry|the health ministry|the central bank|the prime minister|"
    "the president|the opposition coalition|the electoral commission|the supreme court|the parliament speaker|"
    "the Red Crescent|the World Food Programme|UNICEF|the UN envoy|the European Union|the African Union|"
    "the Arab League|the IMF|the World Bank|the teachers' union|the doctors' syndicate|the port authority|"
    "the water authority|the civil defence|the governor|the mayor|the police chief|the foreign minister|"
    "the energy minister|the finance minister|the transport ministry|local council members|tribal elders|"
    "the refugee agency|Amnesty International|Human Rights Watch|Medecins Sans Frontieres|the ICRC"
).split("|")

KINDS: dict[str, tuple[str, ...]] = {
    "flood": ("flood", "floods", "rain", "river", "dam", "evacuated", "homes", "water", "torrential", "submerged"),
    "earthquake": ("earthquake", "magnitude", "tremor", "collapsed", "rubble", "rescuers", "aftershock", "epicentre"),
    "strike": ("strike", "workers", "union", "wages", "walkout", "pay", "salaries", "picket", "negotiations"),
    "election": ("election", "vote", "ballots", "turnout", "candidates", "polling", "results", "campaign"),
    "talks": ("talks", "negotiators", "ceasefire", "agreement", "delegation", "mediators", "truce", "round"),
    "shelling": ("shelling", "artillery", "shells", "killed", "wounded", "civilians", "bombardment", "residential"),
    "protest": ("protest", "protesters", "demonstrators", "rally", "square", "tear", "gas", "dispersed", "crowd"),
    "fire": ("fire", "blaze", "firefighters", "smoke", "warehouse", "flames", "burned", "extinguished"),
    "outbreak": ("cholera", "outbreak", "cases", "clinics", "vaccination", "patients", "infections", "doctors"),
    "prices": ("prices", "bread", "fuel", "inflation", "currency", "subsidies", "shortages", "queues", "market"),
    "blackout": ("blackout", "electricity", "power", "grid", "outage", "generators", "plant", "hours"),
    "trial": ("trial", "court", "judge", "verdict", "defendants", "sentenced", "lawyers", "hearing", "charges"),
    "aid": ("aid", "convoy", "trucks", "crossing", "humanitarian", "food", "supplies", "deliveries", "border"),
    "migration": ("migrants", "boat", "coast", "guard", "rescued", "smugglers", "crossing", "asylum", "sea"),
    "drought": ("drought", "harvest", "wheat", "farmers", "crops", "irrigation", "rainfall", "livestock"),
}

FILLER = (
    "the a of in on for to and with by at from said says officials according statement local residents "
    "reported week day morning evening sources told news agency government spokesman added people area city "
    "region province district official media confirmed later earlier after before during several many "
    "including about more than least number figures data year month since while also however meanwhile "
    "situation conditions response response authorities plans next further measures expected called urged "
    "warned announced described visited arrived left returned remained continued began ended issued"
).split()

OUTLET_WORDS = ("Daily Post Herald Times Tribune Observer Monitor Gazette Courier Chronicle Standard Express "
                "Journal Dispatch Record Sentinel Star Voice Echo Review Today Press Mail Mirror").split()
AUTHORS = ("Amira Haddad|Omar Khalil|Lina Saleh|Youssef Nasser|Rania Aziz|Karim Mansour|Dana Fares|"
           "Samir Qasim|Hala Jaber|Tariq Hamdan|Nour Ibrahim|Faisal Darwish|Mona Rahman|Ziad Awad").split("|")
SECTIONS = ("World", "Middle East", "Africa", "Politics", "Economy", "Health", "Environment")


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str
    place: str
    actor: str
    day: datetime
    number: int


@dataclass(frozen=True, slots=True)
class EntryDoc:
    guid: str
    link: str
    title: str
    summary: str
    html: str
    author: str
    published: datetime
    section: str


@dataclass(slots=True)
class FeedDoc:
    """One outlet's feed: what the server serves at :attr:`path`."""

    index: int
    path: str
    outlet: str
    domain: str
    kind: str  # "rss" | "rss-desc" (HTML in description) | "atom"
    gzip: bool
    entries: list[EntryDoc] = field(default_factory=list)
    #: bumped whenever the entries change (the server's ETag)
    version: int = 1
    _next: int = 0

    def render(self) -> bytes:
        if self.kind == "atom":
            return _atom(self)
        return _rss(self)


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    feeds: int = 300
    seed: int = 1
    min_entries: int = 20
    max_entries: int = 100
    min_html: int = 500
    max_html: int = 3000
    atom_share: float = 0.3
    #: share of RSS feeds carrying their HTML in <description> (no content:encoded)
    description_share: float = 0.3
    gzip_share: float = 0.3
    #: share of entries that republish another outlet's wire copy word for word
    wire_share: float = 0.08
    #: share republished with light edits (credit line, last paragraph cut)
    edited_share: float = 0.04
    #: share linking the same article URL as another outlet (tracking parameters added)
    same_url_share: float = 0.02
    #: entries are dated over this span before ``now``
    span: timedelta = timedelta(hours=36)


class Corpus:
    def __init__(self, spec: CorpusSpec = CorpusSpec(), *, now: datetime | None = None):
        self.spec = spec
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.rng = random.Random(spec.seed)
        self.events: list[Event] = []
        #: recent entries others may republish: (feed index, EntryDoc, event)
        self._wire: list[tuple[int, EntryDoc, Event]] = []
        self.feeds: list[FeedDoc] = []
        rng = self.rng
        for i in range(spec.feeds):
            kind = "atom" if rng.random() < spec.atom_share else (
                "rss-desc" if rng.random() < spec.description_share else "rss")
            outlet = f"{rng.choice(OUTLET_WORDS)} {rng.choice(OUTLET_WORDS)} {i}"
            self.feeds.append(FeedDoc(
                index=i, path=f"/feeds/{i}.xml", outlet=outlet, domain=f"www.outlet{i}.example", kind=kind,
                gzip=rng.random() < spec.gzip_share,
            ))
        # entries oldest first across all feeds, so republication points backwards in time
        counts = [rng.randint(spec.min_entries, spec.max_entries) for _ in self.feeds]
        slots = [i for i, n in enumerate(counts) for _ in range(n)]
        rng.shuffle(slots)
        total = len(slots)
        for n, i in enumerate(slots):
            when = self.now - spec.span + spec.span * (n / max(total, 1))
            self.feeds[i].entries.insert(0, self._entry(self.feeds[i], when))

    # --------------------------------------------------------------- growth

    def add_entries(self, index: int, count: int, when: datetime | None = None) -> None:
        """``count`` new entries at the top of feed ``index``; as many old ones go."""
        feed = self.feeds[index]
        when = when or datetime.now(UTC).replace(microsecond=0)
        new = [self._entry(feed, when - timedelta(seconds=k)) for k in range(count)]
        feed.entries[:0] = new
        del feed.entries[len(feed.entries) - count:]
        feed.version += 1

    @property
    def entry_count(self) -> int:
        return sum(len(f.entries) for f in self.feeds)

    # ------------------------------------------------------------ generation

    def _event(self, when: datetime) -> Event:
        rng = self.rng
        # about one event per six entries: each is reported by several outlets
        if not self.events or rng.random() < 0.17:
            ev = Event(len(self.events), rng.choice(list(KINDS)), rng.choice(PLACES), rng.choice(ACTORS),
                       when.replace(hour=0, minute=0, second=0), rng.randint(2, 400))
            self.events.append(ev)
            return ev
        # recent events are reported more
        return self.events[max(0, len(self.events) - 1 - int(rng.expovariate(1 / 15)))]

    def _entry(self, feed: FeedDoc, when: datetime) -> EntryDoc:
        rng = self.rng
        feed._next += 1
        n = feed._next
        slug = f"{n:05d}-{rng.randrange(16**6):06x}"
        link = f"https://{feed.domain}/news/{when:%Y/%m/%d}/{slug}"
        guid = f"{feed.domain}:{n}" if feed.kind != "atom" else f"tag:{feed.domain},2024:{n}"
        roll = rng.random()
        s = self.spec
        if self._wire and roll < s.wire_share + s.edited_share + s.same_url_share:
            src_feed, src, ev = self._wire[-1 - min(int(rng.expovariate(1 / 40)), len(self._wire) - 1)]
            if src_feed != feed.index:
                title = self._title(ev)
                html = src.html
                if roll >= s.wire_share + s.edited_share:  # same article URL, tracking added
                    return EntryDoc(guid, src.link + f"?utm_source=rss&utm_medium={feed.index}", src.title,
                                    src.summary, html, src.author, when, src.section)
                if roll >= s.wire_share:  # light edit: a credit line, the last paragraph cut
                    paras = html.split("</p>")
                    html = f"<p>({feed.outlet}) -</p>" + "</p>".join(paras[:-2] + paras[-1:])
                return EntryDoc(guid, link, title, src.summary, html, rng.choice(AUTHORS), when, src.section)
        ev = self._event(when)
        html = self._html(ev, rng.randint(s.min_html, s.max_html))
        doc = EntryDoc(guid, link, self._title(ev), self._sentence(ev, 18), html, rng.choice(AUTHORS), when,
                       rng.choice(SECTIONS))
        self._wire.append((feed.index, doc, ev))
        if len(self._wire) > 400:
            del self._wire[:100]
        return doc

    def _title(self, ev: Event) -> str:
        rng = self.rng
        words = KINDS[ev.kind]
        forms = (
            f"{rng.choice(words).capitalize()} in {ev.place}: {ev.actor} {rng.choice(('says', 'warns', 'confirms'))} "
            f"{ev.number} {rng.choice(words)}",
            f"{ev.place} {rng.choice(words)} {rng.choice(('worsens', 'continues', 'eases', 'spreads'))} as "
            f"{ev.actor} {rng.choice(('responds', 'steps in', 'calls for calm'))}",
            f"{ev.actor.capitalize()} {rng.choice(('responds to', 'reports on', 'visits'))} {rng.choice(words)} "
            f"in {ev.place}",
        )
        return rng.choice(forms)

    def _sentence(self, ev: Event, length: int) -> str:
        rng = self.rng
        words = KINDS[ev.kind]
        out = []
        for _ in range(length):
            r = rng.random()
            if r < 0.25:
                out.append(rng.choice(words))
            elif r < 0.3:
                out.append(ev.place)
            elif r < 0.33:
                out.append(str(ev.number))
            else:
                out.append(rng.choice(FILLER))
        if rng.random() < 0.5:
            out.insert(rng.randrange(len(out)), ev.actor)
        return " ".join(out).capitalize() + "."

    def _html(self, ev: Event, size: int) -> str:
        rng = self.rng
        parts: list[str] = []
        used = 0
        while used < size:
            r = rng.random()
            if r < 0.1:
                p = (f'<p><img src="https://cdn.example.net/img/{rng.randrange(10**6)}.jpg" '
                     f'alt="{escape(ev.place)}" width="640" height="360"></p>')
            elif r < 0.2:
                p = f"<blockquote><p>&ldquo;{escape(self._sentence(ev, 14))}&rdquo; &mdash; {escape(ev.actor)}</p></blockquote>"
            elif r < 0.27:
                p = "<ul>" + "".join(f"<li>{escape(self._sentence(ev, 7))}</li>" for _ in range(3)) + "</ul>"
            elif r < 0.5:
                p = (f"<p>{escape(self._sentence(ev, 20))} <a href=\"https://www.example.org/{ev.kind}/{ev.id}\">"
                     f"{escape(ev.place)}</a> {escape(self._sentence(ev, 12))}</p>")
            else:
                p = f"<p>{escape(self._sentence(ev, 22))} <em>{escape(self._sentence(ev, 6))}</em> &amp; more.</p>"
            parts.append(p)
            used += len(p)
        return "".join(parts)


# ---------------------------------------------------------------- rendering

_RSS_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
             'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>')


def _rss(feed: FeedDoc) -> bytes:
    out = [_RSS_HEAD,
           f"<title>{escape(feed.outlet)}</title><link>https://{feed.domain}/</link>"
           f'<atom:link href="https://{feed.domain}/rss" rel="self" type="application/rss+xml"/>'
           f"<description>News from {escape(feed.outlet)}</description><language>en</language>"
           f"<lastBuildDate>{format_datetime(feed.entries[0].published)}</lastBuildDate>\n"]
    desc = feed.kind == "rss-desc"
    for e in feed.entries:
        body = (f"<description>{escape(e.html)}</description>" if desc else
                f"<description>{escape(e.summary)}</description><content:encoded><![CDATA[{e.html}]]></content:encoded>")
        out.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
            f'<guid isPermaLink="false">{e.guid}</guid><pubDate>{format_datetime(e.published)}</pubDate>'
            f"<dc:creator>{escape(e.author)}</dc:creator><category>{escape(e.section)}</category>"
            f"{body}<comments>{escape(e.link)}#comments</comments></item>\n"
        )
    out.append("</channel></rss>\n")
    return "".join(out).encode()


def _atom(feed: FeedDoc) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
           f"<title>{escape(feed.outlet)}</title><link href=\"https://{feed.domain}/\"/>"
           f'<link rel="self" href="https://{feed.domain}/atom"/><id>tag:{feed.domain},2024:feed</id>'
           f"<updated>{feed.entries[0].published.isoformat()}</updated>\n"]
    for e in feed.entries:
        out.append(
            f"<entry><title>{escape(e.title)}</title><link rel=\"alternate\" type=\"text/html\" href={quoteattr(e.link)}/>"
            f"<id>{e.guid}</id><published>{e.published.isoformat()}</published><updated>{e.published.isoformat()}</updated>"
            f"<author><name>{escape(e.author)}</name></author><category term={quoteattr(e.section)}/>"
            f"<summary>{escape(e.summary)}</summary><content type=\"html\">{escape(e.html)}</content></entry>\n"
        )
    out.append("</feed>\n")
    return "".join(out).encode()
