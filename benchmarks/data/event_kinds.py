"""Kind-level headline and lead templates shared by all events of one kind.

These deliberately share vocabulary across events of the same kind (that is
what makes same-kind events hard negatives); the discriminating names and
numbers come from each event's slots.  Written for the monitor project, CC0.
"""

KIND_HEADS = {
    "city-captured": [
        "{actor_short} [seize|capture|take] {city}",
        "{city} falls to {actor_short}",
        "[Rebels|Insurgents|Opposition fighters] [sweep into|storm|enter] {city} as {loser_short} [forces |][pull back|withdraw|melt away]",
        "[Fall of|Loss of] {city} [deals|marks] [a |another ][major|heavy|stinging] blow to {loser_short}",
        "{actor_short} [claims|declares] [full |]control of {city}",
        "[What we know|What to know] about the [capture|fall] of {city}",
        "{loser_short} [forces |][abandon|pull out of|withdraw from] {city}",
    ],
    "airstrike": [
        "[Air strike|Airstrike|Strike] on {place} [kills {dead}|leaves {dead} dead]",
        "{attacker_adj} [jets|warplanes] [pound|hit|strike] {place}",
        "[Deadly|Fresh] [air raid|airstrike] [on|in] {place}",
        "{dead} [killed|dead] as [warplanes|jets|aircraft] [hit|target] {place}",
        "[Bombing|Air raid] [destroys|damages|hits] {target_short} in {place}",
    ],
    "earthquake": [
        "Magnitude {mag} [earthquake|quake] [strikes|hits|rocks] {place}",
        "[Strong|Powerful] [quake|earthquake] [jolts|shakes] {where}",
        "[Earthquake|Quake] in {where} kills {dead}",
        "{mag}-magnitude [quake|tremor] [hits|rattles] {where}[, buildings damaged|; several dead]",
        "[Rescuers|Emergency teams] search rubble after {where} [quake|earthquake]",
    ],
    "flood": [
        "[Floods force|Floods drive|Flooding forces] {displaced} from homes in {region}",
        "[Heavy rain|Monsoon rains] [swamp|inundate|flood] {region}",
        "{region} [floods|flood] [death toll|toll] [rises|climbs] to {dead}",
        "[Thousands evacuated|Mass evacuations] as [floodwaters|rivers] rise in {region}",
        "[Worst|Severe] flooding in [years|decades] hits {region}",
    ],
    "election": [
        "{winner} [wins|claims victory in|leads] {country}['s|] {vote}",
        "{country} [votes|goes to the polls][| in {vote}]",
        "[Results|Early results|Partial results] [show|point to] {winner} [ahead|in front|winning] in {country}",
        "{country} {vote}: [what the results mean|five takeaways|key points]",
        "[Turnout|Voter turnout] [at|reaches] {turnout} in {country}['s|] {vote}",
    ],
    "minister-resignation": [
        "{country}['s|] {role} {minister} [resigns|quits|steps down]",
        "{minister} [resigns|quits] [as|from post as] {role}",
        "{role} [quits|resigns] [over|amid] {reason_short}",
        "[Pressure tells|Under fire]: {minister} [leaves|exits] {country}['s|] [cabinet|government]",
        "{country} [government|cabinet] [loses|rocked by exit of] {role}",
    ],
    "acquisition": [
        "{buyer} [to buy|to acquire|agrees to buy] {target} [for|in] {price} [deal|takeover]",
        "{buyer} [strikes|clinches|lands] {price} [deal|takeover] for {target}",
        "{target} [agrees to|accepts] {price} [takeover|buyout] [by|from] {buyer}",
        "{target} shares [jump|soar|surge] on {buyer} [bid|deal|offer]",
        "[Takeover|Merger|Deal]: {buyer} [swoops on|bids for|moves for] {target}",
    ],
    "layoffs": [
        "{company} to cut {jobs} jobs",
        "{company} [axes|slashes|cuts] {jobs} [jobs|roles|positions][| in restructuring]",
        "{jobs} jobs [to go|at risk] at {company}",
        "{company} [announces|unveils] [layoffs|job cuts][| of {jobs}]",
        "[Job cuts|Layoffs] [hit|loom at] {company}[ as {why_short}|]",
    ],
    "rate-decision": [
        "{bank} [cuts|lowers|trims] [interest ]rates [by|to] {cut_or_rate}",
        "{bank_short} [delivers|makes|announces] {cut} [rate |]cut",
        "{bank_short} [lowers|cuts] [its |the ][key|policy|benchmark] rate[| again][| to {rate}]",
        "{bank_short} [eases|loosens] [policy|monetary policy] [again|for a {nth} time]",
        "[Rate cut|Cut]: {bank_short} [moves|acts] [to support|as] {why_short}",
    ],
    "manager-sacked": [
        "{club} [sack|dismiss|part company with] [manager |head coach ]{manager}",
        "{manager} [sacked|fired|dismissed] by {club}",
        "{club} [part ways|part company] with {manager} after {run_short}",
        "{manager} [out|gone] at {club}",
        "[Axe falls|Curtain falls] on {manager} at {club}",
    ],
    "data-breach": [
        "{company} [data breach|hack|cyberattack] [exposes|hits] {victims} [customers|records|people]",
        "{company} [confirms|admits|discloses] [data breach|cyberattack|hack]",
        "[Hackers|Cybercriminals] [steal|access] data of {victims} {who} [at|from] {company}",
        "{company} [breach|hack]: [what|here's what] {who} [need|should] [to know|do]",
        "[Millions|{victims}] [hit|affected] by {company} [breach|data leak]",
    ],
    "outage": [
        "{company} [outage|failure] [disrupts|knocks out|hits] {service}",
        "[Global|Major|Widespread] {company} outage [hits|disrupts] {who}",
        "{company} [services|systems] [restored|back] after [hours-long|lengthy] outage",
        "{company} [blames|points to] {cause_short} for outage",
        "[Users|Customers] [report|hit by] {company} [problems|outage]",
    ],
    "disease-outbreak": [
        "{disease} outbreak [kills|claims] {dead} in {place}",
        "{disease} [cases|infections] [surge|climb|rise] in {place}",
        "[Health officials|Authorities] [declare|confirm] {disease} outbreak in {place}",
        "{place} [battles|fights|struggles with] {disease} [outbreak|epidemic]",
        "WHO [warns|raises alarm] over {disease} in {place}",
    ],
    "train-derailment": [
        "[Train|Passenger train] [derails|derailment] [in|near] {place}[, {dead} dead|]",
        "{dead} [killed|dead] [as|after] train [derails|comes off tracks] [in|near] {place}",
        "[Derailment|Rail crash] [near|in] {place} [kills {dead}|leaves {dead} dead]",
        "[Investigators|Probe] [examine|looks into] {place} [derailment|train crash]",
        "{country} [train|rail] [crash|accident][: dozens injured| leaves dozens hurt]",
    ],
    "cyclone": [
        "Cyclone {storm} [slams|batters|hits|makes landfall in] {place}",
        "{storm} [leaves trail of destruction|wreaks havoc] [in|across] {place}",
        "[Thousands|Tens of thousands] [evacuated|flee] as Cyclone {storm} [nears|approaches|hits] {place}",
        "Cyclone {storm}: [death toll|toll] [rises|climbs] in {place}",
        "[Storm|Cyclone] {storm} [cuts power|knocks out power|brings floods] [in|to] {place}",
    ],
    "confidence-vote": [
        "{leader} [loses|fails to win|falls in] confidence vote",
        "{country}['s|] government [falls|collapses|toppled] [in|after] [no-confidence|confidence] vote",
        "[Lawmakers|Parliament|MPs] [oust|topple|withdraw support from] {leader}",
        "{country} [plunged into|faces] [political crisis|uncertainty] after {leader} [loses|fails] vote",
        "What [comes next|happens now] after {leader}['s|] [defeat|lost vote]",
    ],
    "protest": [
        "[Thousands|Tens of thousands] [protest|rally|march] in {city}",
        "[Protesters|Demonstrators] [clash with|face] police in {city}",
        "{city} [protests|demonstrations] [enter|stretch into] [another night|a {nth} day]",
        "[Police|Riot police] [use|fire] [tear gas|water cannon] on {city} protesters",
        "[Anger|Outrage|Fury] [spills onto|fills] {city} streets over {cause_short}",
    ],
}

KIND_LEADS = {
    "city-captured": [
        "{actor} [seized|captured|took control of] {city} on {day}, [the latest|another] [in a string of|in a series of] [swift|rapid|sweeping] gains against {loser}.",
        "{loser_cap} [forces |][withdrew from|pulled out of|abandoned] {city} on {day} as {actor_short} fighters [pushed into|advanced into|entered] the city[, according to|, said] {sources}.",
        "[Fighters|Gunmen|Columns of fighters] from {actor} [rolled into|entered|moved through] {city} on {day}, [taking|seizing] [the city|a city] [that|which] {city_note}.",
    ],
    "airstrike": [
        "{attacker_adj} [warplanes|jets|aircraft] [struck|hit|bombed] {target} in {place} on {day}, [killing|leaving] {dead}[| dead], {sources} said.",
        "[At least |]{dead} [were killed|died] [when|after] [an air raid|airstrikes|an airstrike] [hit|struck] {target} in {place} on {day}, according to {sources}.",
    ],
    "earthquake": [
        "A magnitude {mag} earthquake [struck|hit|shook] {place} on {day}, [killing|leaving] {dead}[| dead] and [damaging|toppling] [buildings|homes], {sources} said.",
        "[A strong|A powerful|A shallow] earthquake [measuring|of magnitude] {mag} [rocked|jolted|struck] {where} on {day}[, according to {agency}|, {agency} said].",
    ],
    "flood": [
        "[Flooding|Floods|Floodwaters] [caused by|after] [days of|torrential|relentless] [heavy |]rain [have forced|forced|drove] {displaced} from their homes in {region}, {sources} said on {day}.",
        "[At least |]{dead} [have died|people have been killed|were killed] in [floods|flooding] in {region}, [where|and] {displaced} [have been|were] evacuated, officials said on {day}.",
    ],
    "election": [
        "{winner} [was on course to win|appeared set to win|won] {country}['s|] {vote} [held|] on {vote_day}, [according to|based on] {results_src}.",
        "Voters in {country} [went to the polls|cast ballots] on {vote_day} in {vote_desc}.",
    ],
    "minister-resignation": [
        "{country}['s|] {role}, {minister}, [resigned|stepped down|quit] on {day} [over|amid|following] {reason}.",
        "{minister} [has resigned|resigned|stepped down] as {country}['s|] {role} [after|following] {reason}, [the government|the prime minister's office|officials] [said|confirmed] on {day}.",
    ],
    "acquisition": [
        "{buyer} [has agreed|agreed|said on {day} it had agreed] to [buy|acquire] {target} [for|in a deal valued at|in a deal worth] {price}, [creating|forming] {combined}.",
        "{target} [has accepted|accepted|agreed to] a {price} [takeover offer|buyout|offer] from {buyer}, the companies [said|announced] on {day}.",
    ],
    "layoffs": [
        "{company} [will cut|plans to cut|is to cut|said it would eliminate] {jobs} [jobs|positions|roles] [as part of|in] {plan}, the company said on {day}.",
        "{company} [announced|unveiled] [plans to cut|about] {jobs} [jobs|job cuts] on {day}, [blaming|citing] {why}.",
    ],
    "rate-decision": [
        "The {bank} [cut|lowered|reduced] [its |][key |benchmark |policy ]interest rate by {cut} on {day}, [taking|bringing] it to {rate}[| as {why}].",
        "[As expected|In a widely expected move|In a move markets had anticipated], the {bank} [trimmed|cut|lowered] [borrowing costs|rates] on {day}, [reducing|lowering] [its policy rate|the benchmark rate] to {rate}.",
    ],
    "manager-sacked": [
        "{club} [have sacked|sacked|dismissed|have parted company with] [manager |head coach |]{manager} [after|following] {run}, the club [said|announced|confirmed] on {day}.",
        "{manager} [has been sacked|was dismissed|has left|is out] as {club} [manager|head coach] [after|following] {run}.",
    ],
    "data-breach": [
        "{company} said on {day} that [hackers|an unauthorised party|cybercriminals] [had accessed|stole|gained access to] [personal |]data [belonging to|of] {victims} {who}.",
        "[Personal details|Data] of {victims} {who} [were|have been] [exposed|stolen|compromised] in a [cyberattack|breach|hack] at {company}, the company [disclosed|confirmed|said] on {day}.",
    ],
    "outage": [
        "[A|An hours-long|A lengthy] outage at {company} [disrupted|knocked out|hit] {service} on {day}, [leaving|affecting] {who}.",
        "{company} [said|confirmed] on {day} it had restored {service} after [a failure|an outage|a fault] [that|which] {effect}.",
    ],
    "disease-outbreak": [
        "[A|An] {disease} outbreak in {place} has [killed|claimed the lives of] {dead} [and infected|with] {cases}[| cases recorded], {sources} said on {day}.",
        "[Health authorities|Officials] in {place} [declared|confirmed] [an outbreak of|a] {disease}[| outbreak] on {day} after {cases} [suspected |]cases [were recorded|were reported].",
    ],
    "train-derailment": [
        "A [passenger |]train [derailed|came off the tracks|left the rails] [near|in] {place} on {day}, [killing|leaving] {dead}[| dead] and [injuring|hurting] {injured}, {sources} said.",
        "[At least |]{dead} [people |][were killed|died] and {injured} [injured|hurt] when {train_desc} derailed near {place} on {day}.",
    ],
    "cyclone": [
        "Cyclone {storm} [slammed into|tore through|made landfall in] {place} on {day}, [bringing|with] [winds of|gusts up to] {wind} and [forcing|prompting] {evac}.",
        "[At least |]{dead} [people |][were killed|died] as Cyclone {storm} [battered|lashed|swept across] {place} on {day}, {sources} said.",
    ],
    "confidence-vote": [
        "{leader} [lost|was defeated in|failed to win] a [confidence|no-confidence] vote in {parliament} on {day}, [bringing down|toppling|ending] {gov}.",
        "[Lawmakers|Members of parliament|Deputies] in {country} [voted|moved] on {day} to [topple|bring down|withdraw confidence from] {leader}['s government|], {result}.",
    ],
    "protest": [
        "[Thousands|Tens of thousands] of [people|protesters|demonstrators] [took to the streets|rallied|marched] in {city} on {day} [against|over|to protest] {cause}.",
        "[Police|Riot police] [used|fired] [tear gas|water cannon|tear gas and water cannon] [on|against] protesters in {city} on {day} as [demonstrations|protests] over {cause} [continued|entered another night].",
    ],
}
