using System.Globalization;
using Stadig.Notes;
using Stadig.Patients;
using Stadig.Patients.Identifiers;

namespace Stadig.Seeding;

/// <summary>
/// Deterministic ids: time-ordered like UUIDv7 (a 48-bit counter from the reference time, then
/// random bits from the seeded source), so that the same seed gives the same ids and bulk inserts
/// append to the primary-key indexes instead of splitting pages all over them.
/// </summary>
internal sealed class IdSource(Random random, DateTimeOffset reference)
{
    private long _counter = reference.ToUnixTimeMilliseconds() * 16;

    public Guid Next()
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes[6..]);
        var counter = _counter++;
        for (var i = 5; i >= 0; i--) { bytes[i] = (byte)counter; counter >>= 8; }
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}

/// <summary>The organisation the clinical data refers to, by id.</summary>
internal sealed record SeedOrganisation(
    Guid[] Wards, Guid Clinic, Guid[] PrimaryCare, Guid Lab, Guid[] Physicians, Guid[] Nurses);

/// <summary>
/// Generates patients and their records one batch at a time from one seeded random source; the
/// order of draws is fixed, so a seed always gives the same region.
/// </summary>
internal sealed class PatientGenerator
{
    // Sweden's population by five-year age group (thousands, rounded; SCB 2023), 0–4 … 100–104.
    private static readonly double[] AgePyramid =
        [560, 620, 640, 600, 590, 690, 720, 680, 640, 650, 680, 650, 590, 560, 540, 490, 320, 180, 80, 20, 3];
    private const int OldestAge = 105;
    private const int ClinicalYears = 5;
    private const int RecentDraftDays = 14;
    private const double RecentDraftShare = 0.3;
    private const double ForgottenDraftShare = 1.0 / 300;

    private readonly Random _random;
    private readonly IdSource _ids;
    private readonly SeedOrganisation _org;
    private readonly DateTimeOffset _now;
    private readonly DateOnly _today;
    private readonly IdentityNumbers _numbers;
    private readonly double[] _ageCumulative;
    private readonly double[] _femaleCumulative;
    private readonly double[] _maleCumulative;
    private readonly double[] _familyCumulative;
    private int _phoneCounter;

    public PatientGenerator(Random random, IdSource ids, SeedOrganisation org, DateTimeOffset now)
    {
        _random = random;
        _ids = ids;
        _org = org;
        _now = now;
        _today = DateOnly.FromDateTime(now.UtcDateTime);
        _numbers = new IdentityNumbers(_today.AddYears(-OldestAge).AddDays(-IdentityNumbers.MaxDateShift - 1), _today);
        _ageCumulative = Cumulative(AgePyramid);
        // Name frequency falls off with rank, but gently: the most common family name gets ~3 % of
        // the region (Andersson has ~2.3 % of Sweden), so searches for common names are as
        // unselective as real ones, not worse. With only a hundred names every name is common.
        _femaleCumulative = Cumulative(Enumerable.Range(1, SwedishData.FemaleGivenNames.Length).Select(r => 1 / Math.Pow(r, 0.4)).ToArray());
        _maleCumulative = Cumulative(Enumerable.Range(1, SwedishData.MaleGivenNames.Length).Select(r => 1 / Math.Pow(r, 0.4)).ToArray());
        _familyCumulative = Cumulative(Enumerable.Range(1, SwedishData.FamilyNames.Length).Select(r => 1 / Math.Pow(r, 0.3)).ToArray());
    }

    public Batch Generate(int count)
    {
        var batch = new Batch();
        for (var i = 0; i < count; i++) AddPatient(batch);
        return batch;
    }

    private void AddPatient(Batch batch)
    {
        var age = AgeYears();
        // Slightly more boys are born; women outlive men, so the old are mostly women.
        var femaleShare = age switch { < 60 => 0.49, < 80 => 0.53, < 90 => 0.60, _ => 0.70 };
        var sex = _random.NextDouble() < femaleShare ? Sex.Female : Sex.Male;
        var wantedBirth = _today.AddYears(-age).AddDays(-_random.Next(0, 365));
        if (wantedBirth > _today) wantedBirth = _today;

        var identifier = _random.NextDouble() < 0.005
            ? _numbers.NextReservnummer(wantedBirth, sex)
            : _numbers.Next(wantedBirth, sex);
        var birth = identifier.BirthDate ?? wantedBirth;
        age = AgeOn(birth, _today);

        var given = GivenNames(sex);
        var family = FamilyName();
        var protectedIdentity = _random.NextDouble() switch
        {
            < 0.0005 => ProtectedIdentity.SkyddadFolkbokforing,
            < 0.0025 => ProtectedIdentity.Sekretessmarkering,
            _ => ProtectedIdentity.None,
        };
        string? address = null, postal = null, city = null;
        // Skyddad folkbokföring: the real address is not in the population register, so not here either.
        if (protectedIdentity != ProtectedIdentity.SkyddadFolkbokforing)
        {
            var (town, prefix) = Pick(SwedishData.Towns);
            var letter = _random.Next(10) == 0 ? (char)('A' + _random.Next(3)) + "" : "";
            address = $"{Pick(SwedishData.Streets)} {_random.Next(1, 120).ToString(CultureInfo.InvariantCulture)}{letter}";
            postal = (prefix * 100 + _random.Next(0, 100)).ToString("D5", CultureInfo.InvariantCulture);
            city = town;
        }
        var phone = age >= 12 && _random.NextDouble() < 0.9 ? Phone() : null;
        var email = age >= 16 && _random.NextDouble() < 0.3
            ? $"{NameSearch.Fold(given.Split(' ')[0])}.{NameSearch.Fold(family).Replace(' ', '.')}{_random.Next(1, 100).ToString(CultureInfo.InvariantCulture)}@{Pick(SwedishData.EmailDomains)}"
            : null;
        // Mortality rises steeply with age; the synthetic deceased died within the last three years.
        DateOnly? deceased = null;
        var deathChance = age switch { < 60 => 0.0005, < 80 => 0.01, < 90 => 0.05, _ => 0.15 };
        if (_random.NextDouble() < deathChance)
        {
            var died = _today.AddDays(-_random.Next(1, 3 * 365));
            if (died > birth) deceased = died;
        }

        var lastDay = deceased ?? _today;
        var createdAt = Timestamp(Max(birth, _today.AddYears(-15)), lastDay);
        var patientId = _ids.Next();
        batch.Patients.Add(new PatientRow(
            patientId, identifier.Kind.ToString(), identifier.Value, identifier.ShortForm, family, given,
            NameSearch.Fold(family), NameSearch.LastWord(family), NameSearch.Fold(given), NameSearch.LastWord(given), birth, sex.ToString(),
            address, postal, city, phone, email, protectedIdentity.ToString(), deceased, createdAt));

        AddClinicalRecord(batch, patientId, sex, age, birth, lastDay);
    }

    private void AddClinicalRecord(Batch batch, Guid patientId, Sex sex, int age, DateOnly birth, DateOnly lastDay)
    {
        var from = Max(birth, _today.AddYears(-ClinicalYears));
        if (from >= lastDay) return;
        // The old see the health service more often than the young.
        var activity = age switch { < 18 => 0.6, < 50 => 0.8, < 70 => 1.2, _ => 1.7 };

        var encounterCount = Math.Min(5, (int)(_random.NextDouble() * 3.2 * activity));
        var encounters = new List<(EncounterRow Row, SwedishData.Scenario Scenario)>(encounterCount);
        for (var i = 0; i < encounterCount; i++)
        {
            var scenario = Pick(SwedishData.Scenarios);
            var roll = _random.NextDouble();
            var kind = scenario.Inpatient && roll < 0.5 ? "Inpatient" : roll < 0.75 ? "Outpatient" : "PrimaryCare";
            // Inpatient stays start early enough to have ended by the last day.
            var latest = kind == "Inpatient" ? lastDay.AddDays(-12) : lastDay;
            var start = Timestamp(from, latest < from ? from : latest);
            Guid unit;
            string? bed = null;
            DateTimeOffset? end;
            switch (kind)
            {
                case "Inpatient":
                    unit = Pick(_org.Wards);
                    bed = $"Sal {_random.Next(1, 13).ToString(CultureInfo.InvariantCulture)} säng {_random.Next(1, 5).ToString(CultureInfo.InvariantCulture)}";
                    end = start.AddDays(_random.Next(1, 11)).AddHours(_random.Next(0, 8));
                    break;
                case "Outpatient":
                    unit = _org.Clinic;
                    end = start.AddMinutes(30);
                    break;
                default:
                    unit = Pick(_org.PrimaryCare);
                    end = start.AddMinutes(20);
                    break;
            }
            if (end > _now) end = _now;
            encounters.Add((new EncounterRow(_ids.Next(), patientId, unit, kind, bed, start, end), scenario));
        }
        batch.Encounters.AddRange(encounters.Select(e => e.Row));

        var noteCount = encounterCount == 0 ? (_random.NextDouble() < 0.15 ? 1 : 0) : Math.Min(4, _random.Next(encounterCount == 1 ? 1 : 2, 5));
        for (var i = 0; i < noteCount; i++)
        {
            if (encounters.Count == 0)
            {
                AddNote(batch, patientId, null, Pick(_org.PrimaryCare), "Telefonkontakt", Pick(SwedishData.Scenarios), Timestamp(from, lastDay), Pick(_org.Nurses));
                continue;
            }
            var (encounter, scenario) = encounters[i % encounters.Count];
            var type = encounter.Kind == "Inpatient"
                ? (i < encounters.Count ? "Inskrivningsanteckning" : _random.Next(2) == 0 ? "Daganteckning" : "Epikris")
                : (i < encounters.Count ? "Besöksanteckning" : "Telefonkontakt");
            var at = type switch
            {
                "Epikris" => encounter.EndedAt ?? encounter.StartedAt,
                "Daganteckning" => encounter.StartedAt.AddDays(1),
                "Telefonkontakt" => (encounter.EndedAt ?? encounter.StartedAt).AddDays(_random.Next(1, 14)),
                _ => encounter.StartedAt.AddMinutes(_random.Next(5, 60)),
            };
            if (at > _now) at = _now;
            var author = type == "Telefonkontakt" && _random.Next(2) == 0 ? Pick(_org.Nurses) : Pick(_org.Physicians);
            AddNote(batch, patientId, encounter.Id, encounter.UnitId, type, scenario, at, author);
        }

        var resultCount = Math.Min(10, (int)(_random.NextDouble() * 5 * activity));
        if (resultCount > 0)
        {
            var unit = encounters.Count > 0 ? encounters[0].Row.UnitId : Pick(_org.PrimaryCare);
            var observed = encounters.Count > 0 ? encounters[0].Row.StartedAt.AddHours(1) : Timestamp(from, lastDay);
            if (observed > _now) observed = _now;
            var first = _random.Next(SwedishData.Analyses.Length);
            for (var i = 0; i < resultCount; i++)
            {
                var analysis = SwedishData.Analyses[(first + i) % SwedishData.Analyses.Length];
                batch.Results.Add(Result(patientId, unit, analysis, sex, observed));
            }
        }

        if (_random.NextDouble() < 0.08)
        {
            var author = Pick(_org.Physicians);
            var unit = encounters.Count > 0 ? encounters[0].Row.UnitId : Pick(_org.PrimaryCare);
            var at = Timestamp(from, lastDay);
            if (_random.NextDouble() < 0.5)
            {
                var agent = Pick(SwedishData.Allergens);
                var reaction = Pick(SwedishData.Reactions);
                var severe = reaction is "Anafylaxi" or "Angioödem";
                batch.Warnings.Add(new WarningRow(_ids.Next(), patientId, unit, "Hypersensitivity",
                    $"Överkänslighet mot {agent.ToLowerInvariant()}: {reaction.ToLowerInvariant()}.", agent, reaction,
                    severe ? "LifeThreatening" : "Harmful", _random.NextDouble() < 0.7 ? "Confirmed" : "Suspected", at, author));
            }
            else
            {
                var (category, text) = Pick(SwedishData.OtherWarnings);
                batch.Warnings.Add(new WarningRow(_ids.Next(), patientId, unit, category, text, null, null, null, null, at, author));
            }
        }
    }

    private void AddNote(Batch batch, Guid patientId, Guid? encounterId, Guid unitId, string type, SwedishData.Scenario scenario, DateTimeOffset at, Guid author)
    {
        var keywords = type switch
        {
            "Besöksanteckning" or "Inskrivningsanteckning" =>
                new[] { ("Aktuellt", Pick(scenario.Aktuellt)), ("Anamnes", Pick(scenario.Anamnes)), ("Status", Pick(scenario.Status)), ("Bedömning", Pick(scenario.Bedomning)), ("Åtgärd", Pick(scenario.Atgard)) },
            "Daganteckning" =>
                [("Aktuellt", Pick(SwedishData.DailyStatus)), ("Bedömning", Pick(scenario.Bedomning)), ("Åtgärd", Pick(SwedishData.DailyPlan))],
            "Epikris" =>
                [("Aktuellt", $"Inlagd på grund av {scenario.Reason}."), ("Bedömning", Pick(scenario.Bedomning)), ("Åtgärd", Pick(SwedishData.FollowUp))],
            _ => [("Aktuellt", Pick(SwedishData.PhoneReasons)), ("Åtgärd", Pick(SwedishData.PhoneAdvice))],
        };
        var noteId = _ids.Next();
        // A draft is a note not yet signed, and notes are signed within days: a third of the last
        // fortnight's are still drafts, and one in three hundred older ones was forgotten. (Every
        // tenth note of five years left unsigned gave each author thousands of drafts, a worklist no
        // clinician has, and made it the heaviest read of the overload run.)
        var recent = at > _now.AddDays(-RecentDraftDays);
        var signed = _random.NextDouble() >= (recent ? RecentDraftShare : ForgottenDraftShare);
        var signedAt = at.AddMinutes(_random.Next(5, 240));
        if (signedAt > _now) signedAt = _now;
        batch.Notes.Add(new NoteRow(noteId, patientId, encounterId, unitId, type, signed ? "Signed" : "Draft", author,
            signed ? author : null, signed ? signedAt : null, signed ? NoteContentHash.Compute(keywords) : null, at));
        for (var k = 0; k < keywords.Length; k++)
            batch.Keywords.Add(new KeywordRow(noteId, patientId, k + 1, keywords[k].Item1, keywords[k].Item2));
    }

    private LabResultRow Result(Guid patientId, Guid unitId, SwedishData.Analysis a, Sex sex, DateTimeOffset observed)
    {
        var (low, high) = sex == Sex.Male ? (a.MaleLow, a.MaleHigh) : (a.FemaleLow, a.FemaleHigh);
        var span = high - low;
        var roll = _random.NextDouble();
        // Mostly inside the interval; about one in eight outside it, high more often than low.
        var value = roll switch
        {
            < 0.04 when !a.UpperBoundOnly => low - span * (0.05 + 0.3 * _random.NextDouble()),
            < 0.12 => high + span * (0.05 + (a.UpperBoundOnly ? 8 : 0.5) * _random.NextDouble()),
            _ => low + span * (0.1 + 0.8 * _random.NextDouble()),
        };
        value = Math.Round(Math.Max(value, 0), a.Decimals, MidpointRounding.AwayFromZero);
        string? flag = value > high ? "H" : !a.UpperBoundOnly && value < low ? "L" : null;
        return new LabResultRow(_ids.Next(), patientId, unitId, a.Code, a.Name, value, null, a.Unit,
            a.UpperBoundOnly ? null : low, high, flag, "Final", observed);
    }

    private string GivenNames(Sex sex)
    {
        var (names, cumulative) = sex == Sex.Female
            ? (SwedishData.FemaleGivenNames, _femaleCumulative)
            : (SwedishData.MaleGivenNames, _maleCumulative);
        var first = names[Weighted(cumulative)];
        if (_random.NextDouble() >= 0.55) return first;
        var second = names[Weighted(cumulative)];
        return second == first ? first : $"{first} {second}";
    }

    private string FamilyName()
    {
        var first = SwedishData.FamilyNames[Weighted(_familyCumulative)];
        var roll = _random.NextDouble();
        if (roll >= 0.04) return first;
        var second = SwedishData.FamilyNames[Weighted(_familyCumulative)];
        if (second == first) return first;
        // Double family names: mostly hyphenated (Lind-Öström), sometimes with a space (Lind Öström).
        return roll < 0.03 ? $"{first}-{second}" : $"{first} {second}";
    }

    /// <summary>Numbers from the series PTS reserves for fiction, so that nobody real is ever called.</summary>
    private string Phone()
    {
        var n = _phoneCounter++ % 95 + 5;
        return (_random.Next(3)) switch
        {
            0 => $"070-174 06 {n.ToString("D2", CultureInfo.InvariantCulture)}",
            1 => $"031-390 06 {n.ToString("D2", CultureInfo.InvariantCulture)}",
            _ => $"08-465 005 {n.ToString("D2", CultureInfo.InvariantCulture)}",
        };
    }

    private int AgeYears()
    {
        var group = Weighted(_ageCumulative);
        return Math.Min(OldestAge - 1, group * 5 + _random.Next(5));
    }

    /// <summary>A whole-second time between the two days (inclusive), never after the reference time.</summary>
    private DateTimeOffset Timestamp(DateOnly from, DateOnly to)
    {
        var days = Math.Max(0, to.DayNumber - from.DayNumber);
        var day = from.AddDays(_random.Next(0, days + 1));
        // Daytime, Swedish working hours in UTC.
        var t = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddSeconds(_random.Next(6 * 3600, 16 * 3600));
        return t > _now ? _now.AddSeconds(-_random.Next(60, 3600)) : t;
    }

    private int Weighted(double[] cumulative)
    {
        var x = _random.NextDouble() * cumulative[^1];
        var i = Array.BinarySearch(cumulative, x);
        return i >= 0 ? i : ~i;
    }

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];

    private static DateOnly Max(DateOnly a, DateOnly b) => a > b ? a : b;

    private static int AgeOn(DateOnly born, DateOnly today)
    {
        var age = today.Year - born.Year;
        if (today < born.AddYears(age)) age--;
        return Math.Max(0, age);
    }

    private static double[] Cumulative(double[] weights)
    {
        var result = new double[weights.Length];
        double sum = 0;
        for (var i = 0; i < weights.Length; i++) { sum += weights[i]; result[i] = sum; }
        return result;
    }
}
