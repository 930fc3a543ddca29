using System.Text.RegularExpressions;
using Stadig.Patients;

namespace Stadig.Problems;

/// <summary>One code of the classification, with its Swedish title and common words clinicians search with.</summary>
public sealed record Icd10Code(string Code, string Title, string SearchTerms = "")
{
    internal string FoldedCode { get; } = Icd10Se.FoldCode(Code);
    internal string FoldedText { get; } = NameSearch.Fold(Title + " " + SearchTerms);
}

/// <summary>
/// A curated selection of ICD-10-SE codes for the code lookup. ICD-10-SE, the Swedish version of
/// WHO's ICD-10, is published by Socialstyrelsen (the National Board of Health and Welfare). This list is
/// not a copy of that publication: it is a selection of common primary-care and hospital diagnoses,
/// with codes and Swedish titles written by the Stadig team from that classification (titles may be
/// shortened). The extra search words (e.g. "lunginflammation") are ours, not Socialstyrelsen's.
/// A code outside the list may still be recorded if it is syntactically valid and has a text.
/// </summary>
public static partial class Icd10Se
{
    [GeneratedRegex(@"^[A-Z][0-9]{2}(\.[0-9]{1,2})?[A-Z]?$")]
    private static partial Regex Syntax();

    /// <summary>Whether <paramref name="code"/> looks like an ICD-10 code (e.g. "J18.9", "I10", "S72.0", "E11.9A" is not in the list but valid).</summary>
    public static bool IsValidSyntax(string code) => Syntax().IsMatch(code);

    /// <summary>"j18,9 " → "J18.9": upper case, no spaces, comma as a decimal point.</summary>
    public static string Normalize(string? code) => (code ?? "").Trim().Replace(" ", "", StringComparison.Ordinal).Replace(',', '.').ToUpperInvariant();

    internal static string FoldCode(string code) => Normalize(code).Replace(".", "", StringComparison.Ordinal);

    public static Icd10Code? Find(string? code)
    {
        var normalized = Normalize(code);
        return All.FirstOrDefault(c => c.Code == normalized);
    }

    /// <summary>
    /// Codes matching <paramref name="query"/>: by code prefix ("J18", "j18.9", "I10"), or by words of the
    /// title and search terms, ignoring case and diacritics ("hypert", "lunginflammation", "förmaksflimmer").
    /// Code matches first, then titles that start with the words, then the rest; each group by code.
    /// </summary>
    public static IReadOnlyList<Icd10Code> Search(string? query, int limit = 30)
    {
        var words = NameSearch.Words(query);
        if (words.Length == 0) return [];
        var code = FoldCode(query!);
        var byCode = code.Length > 0 ? All.Where(c => c.FoldedCode.StartsWith(code, StringComparison.Ordinal)).ToList() : [];
        var byText = All.Where(c => !byCode.Contains(c) && words.All(w => c.FoldedText.Contains(w, StringComparison.Ordinal)))
            .OrderBy(c => c.FoldedText.StartsWith(words[0], StringComparison.Ordinal) ? 0 : 1).ThenBy(c => c.Code, StringComparer.Ordinal);
        return byCode.OrderBy(c => c.Code, StringComparer.Ordinal).Concat(byText).Take(limit).ToList();
    }

    public static readonly IReadOnlyList<Icd10Code> All =
    [
        // A–B Infektionssjukdomar
        new("A04.7", "Enterokolit orsakad av Clostridioides difficile", "clostridium diarré"),
        new("A08.4", "Virusorsakad tarminfektion, ospecificerad", "magsjuka gastroenterit calici"),
        new("A09.9", "Gastroenterit och kolit av ospecificerat ursprung", "diarré magsjuka"),
        new("A41.9", "Sepsis, ospecificerad", "blodförgiftning"),
        new("A46", "Rosfeber", "erysipelas"),
        new("A69.2", "Borrelios", "borrelia fästing lyme"),
        new("B00.1", "Herpesvirusdermatit i ansiktet", "munsår herpes"),
        new("B02.9", "Bältros utan komplikation", "herpes zoster"),
        new("B34.9", "Virusinfektion, ospecificerad", "virus"),
        new("B37.3", "Candidainfektion i vulva och vagina", "svamp candida"),
        new("B35.1", "Nagelsvamp", "onykomykos tinea"),
        new("U07.1", "Covid-19, virus identifierat", "corona sars-cov-2"),
        // C–D Tumörer och blod
        new("C18.9", "Malign tumör i tjocktarmen, ospecificerad", "koloncancer tjocktarmscancer"),
        new("C34.9", "Malign tumör i bronk eller lunga, ospecificerad", "lungcancer"),
        new("C44.9", "Malign tumör i huden, ospecificerad", "hudcancer"),
        new("C50.9", "Malign tumör i bröstkörteln, ospecificerad", "bröstcancer"),
        new("C61", "Malign tumör i prostata", "prostatacancer"),
        new("C43.9", "Malignt melanom i huden, ospecificerat", "melanom hudcancer"),
        new("D50.9", "Järnbristanemi, ospecificerad", "blodbrist järnbrist"),
        new("D51.0", "B12-bristanemi orsakad av brist på intrinsic factor", "perniciös anemi b12"),
        new("D64.9", "Anemi, ospecificerad", "blodbrist"),
        new("D68.9", "Koagulationsrubbning, ospecificerad", "blödningsrubbning"),
        // E Endokrina sjukdomar
        new("E03.9", "Hypotyreos, ospecificerad", "underfunktion sköldkörtel"),
        new("E05.9", "Tyreotoxikos, ospecificerad", "hypertyreos överfunktion sköldkörtel"),
        new("E06.3", "Autoimmun tyreoidit", "hashimoto"),
        new("E10.9", "Diabetes mellitus typ 1 utan komplikationer", "typ 1-diabetes"),
        new("E11.9", "Diabetes mellitus typ 2 utan komplikationer", "typ 2-diabetes"),
        new("E11.6", "Diabetes mellitus typ 2 med andra specificerade komplikationer", "typ 2-diabetes"),
        new("E16.2", "Hypoglykemi, ospecificerad", "lågt blodsocker"),
        new("E55.9", "D-vitaminbrist, ospecificerad", "vitamin d"),
        new("E66.9", "Fetma, ospecificerad", "obesitas övervikt"),
        new("E78.0", "Ren hyperkolesterolemi", "höga blodfetter kolesterol"),
        new("E78.5", "Hyperlipidemi, ospecificerad", "höga blodfetter"),
        new("E86", "Hypovolemi", "dehydrering uttorkning"),
        new("E87.1", "Hypoosmolalitet och hyponatremi", "lågt natrium"),
        new("E87.6", "Hypokalemi", "lågt kalium"),
        // F Psykiska sjukdomar
        new("F03", "Ospecificerad demens", "minnessvikt"),
        new("F05.9", "Delirium, ospecificerat", "förvirring konfusion"),
        new("F10.2", "Psykiska störningar och beteendestörningar orsakade av alkohol: beroendesyndrom", "alkoholberoende"),
        new("F17.2", "Psykiska störningar och beteendestörningar orsakade av tobak: beroendesyndrom", "nikotinberoende rökning"),
        new("F32.9", "Depressiv episod, ospecificerad", "depression nedstämdhet"),
        new("F33.9", "Recidiverande depressioner, ospecificerade", "depression"),
        new("F41.1", "Generaliserat ångestsyndrom", "ångest"),
        new("F41.9", "Ångesttillstånd, ospecificerat", "ångest"),
        new("F43.0", "Akut stressreaktion", "kris stress"),
        new("F43.2", "Anpassningsstörning", "stress"),
        new("F43.8A", "Utmattningssyndrom", "utbrändhet stress"),
        new("F51.0", "Icke organisk sömnlöshet", "insomni sömnsvårigheter"),
        new("F90.0", "Störning av aktivitet och uppmärksamhet", "adhd"),
        new("F84.0", "Autism i barndomen", "autism"),
        // G Nervsystemet
        new("G20", "Parkinsons sjukdom", "parkinson"),
        new("G30.9", "Alzheimers sjukdom, ospecificerad", "demens alzheimer"),
        new("G35", "Multipel skleros", "ms"),
        new("G40.9", "Epilepsi, ospecificerad", "kramper"),
        new("G43.9", "Migrän, ospecificerad", "huvudvärk"),
        new("G44.2", "Tensionshuvudvärk", "spänningshuvudvärk"),
        new("G45.9", "Transitorisk cerebral ischemisk attack, ospecificerad", "tia"),
        new("G47.3", "Sömnapné", "snarkning apné"),
        new("G51.0", "Bells pares", "facialispares"),
        new("G56.0", "Karpaltunnelsyndrom", "domningar hand"),
        new("G62.9", "Polyneuropati, ospecificerad", "neuropati"),
        // H Öga och öra
        new("H10.9", "Konjunktivit, ospecificerad", "ögoninflammation"),
        new("H25.9", "Senil katarakt, ospecificerad", "grå starr"),
        new("H40.9", "Glaukom, ospecificerat", "grön starr"),
        new("H60.9", "Extern otit, ospecificerad", "öroninflammation hörselgång"),
        new("H61.2", "Vaxpropp", "öronvax cerumen"),
        new("H66.9", "Otitis media, ospecificerad", "öroninflammation"),
        new("H81.1", "Benign paroxysmal yrsel", "yrsel kristallsjuka"),
        new("H91.9", "Hörselnedsättning, ospecificerad", "hörsel"),
        // I Cirkulationsorganen
        new("I10", "Essentiell hypertoni", "högt blodtryck"),
        new("I11.9", "Hypertensiv hjärtsjukdom utan hjärtsvikt", "högt blodtryck"),
        new("I20.0", "Instabil angina", "kärlkramp"),
        new("I20.9", "Angina pectoris, ospecificerad", "kärlkramp"),
        new("I21.4", "Akut subendokardiell hjärtinfarkt", "nstemi infarkt"),
        new("I21.9", "Akut hjärtinfarkt, ospecificerad", "infarkt stemi"),
        new("I25.1", "Aterosklerotisk hjärtsjukdom", "kranskärlssjukdom"),
        new("I26.9", "Lungemboli utan uppgift om akut cor pulmonale", "lungemboli"),
        new("I35.0", "Aortastenos", "klaffel"),
        new("I42.0", "Dilaterad kardiomyopati", "hjärtmuskelsjukdom"),
        new("I44.2", "AV-block III", "totalblock"),
        new("I47.1", "Supraventrikulär takykardi", "svt hjärtklappning"),
        new("I48.9", "Förmaksflimmer och förmaksfladder, ospecificerat", "flimmer"),
        new("I50.0", "Hjärtsvikt med stas", "hjärtsvikt"),
        new("I50.9", "Hjärtsvikt, ospecificerad", "hjärtsvikt"),
        new("I61.9", "Hjärnblödning, ospecificerad", "stroke blödning"),
        new("I63.9", "Cerebral infarkt, ospecificerad", "stroke hjärninfarkt"),
        new("I64", "Akut cerebrovaskulär sjukdom, ej specificerad som blödning eller infarkt", "stroke slaganfall"),
        new("I70.2", "Ateroskleros i extremitetsartärer", "claudicatio fönstertittarsjuka"),
        new("I80.2", "Flebit och tromboflebit i andra djupa kärl i nedre extremiteterna", "djup ventrombos dvt blodpropp"),
        new("I83.9", "Åderbråck i nedre extremiteterna utan sår eller inflammation", "varicer"),
        new("I95.1", "Ortostatisk hypotoni", "lågt blodtryck yrsel"),
        // J Andningsorganen
        new("J01.9", "Akut sinuit, ospecificerad", "bihåleinflammation"),
        new("J02.0", "Streptokockfaryngit", "halsfluss"),
        new("J02.9", "Akut faryngit, ospecificerad", "halsont"),
        new("J03.9", "Akut tonsillit, ospecificerad", "halsfluss"),
        new("J06.9", "Akut övre luftvägsinfektion, ospecificerad", "förkylning övre luftvägsinfektion"),
        new("J10.1", "Influensa med andra respiratoriska manifestationer, annat influensavirus identifierat", "influensa"),
        new("J11.1", "Influensa med andra respiratoriska manifestationer, virus ej identifierat", "influensa"),
        new("J15.9", "Bakteriell pneumoni, ospecificerad", "lunginflammation"),
        new("J18.9", "Pneumoni, ospecificerad", "lunginflammation"),
        new("J20.9", "Akut bronkit, ospecificerad", "luftrörskatarr"),
        new("J21.9", "Akut bronkiolit, ospecificerad", "rs-virus"),
        new("J30.1", "Allergisk rinit orsakad av pollen", "hösnuva pollenallergi"),
        new("J44.1", "Kroniskt obstruktiv lungsjukdom med akut exacerbation, ospecificerad", "kol exacerbation"),
        new("J44.9", "Kroniskt obstruktiv lungsjukdom, ospecificerad", "kol"),
        new("J45.9", "Astma, ospecificerad", "astma"),
        new("J46", "Akut svår astma", "status asthmaticus"),
        new("J69.0", "Pneumonit orsakad av föda och uppkräkt maginnehåll", "aspirationspneumoni lunginflammation"),
        new("J81", "Lungödem", "lungstas"),
        new("J90", "Pleuravätska, ej klassificerad på annan plats", "pleuravätska utgjutning"),
        new("J93.9", "Pneumotorax, ospecificerad", "lungkollaps"),
        new("J96.0", "Akut respiratorisk insufficiens", "andningssvikt"),
        // K Matsmältningsorganen
        new("K21.9", "Gastroesofageal refluxsjukdom utan esofagit", "reflux halsbränna"),
        new("K25.9", "Magsår, ospecificerat", "ulcus"),
        new("K29.7", "Gastrit, ospecificerad", "magkatarr"),
        new("K35.8", "Akut appendicit, annan och ospecificerad", "blindtarmsinflammation"),
        new("K40.9", "Ljumskbråck utan inklämning eller gangrän", "inguinalbråck"),
        new("K50.9", "Crohns sjukdom, ospecificerad", "crohn"),
        new("K51.9", "Ulcerös kolit, ospecificerad", "tarminflammation"),
        new("K56.6", "Annan och ospecificerad tarmobstruktion", "ileus tarmvred"),
        new("K57.3", "Divertikelsjukdom i tjocktarmen utan perforation eller abscess", "divertikulit"),
        new("K58.9", "Colon irritabile utan diarré", "ibs känslig tarm"),
        new("K59.0", "Förstoppning", "obstipation"),
        new("K70.3", "Alkoholorsakad levercirros", "skrumplever"),
        new("K80.2", "Gallsten utan kolecystit", "gallsten"),
        new("K81.0", "Akut kolecystit", "gallblåseinflammation"),
        new("K85.9", "Akut pankreatit, ospecificerad", "bukspottkörtelinflammation"),
        new("K92.2", "Gastrointestinal blödning, ospecificerad", "magblödning"),
        // L Huden
        new("L02.9", "Hudabscess, furunkel och karbunkel, ospecificerad", "böld"),
        new("L03.1", "Cellulit i andra delar av extremitet", "cellulit"),
        new("L20.9", "Atopiskt eksem, ospecificerat", "böjveckseksem"),
        new("L23.9", "Allergiskt kontakteksem, ospecificerad orsak", "eksem"),
        new("L30.9", "Dermatit, ospecificerad", "eksem"),
        new("L40.0", "Psoriasis vulgaris", "psoriasis"),
        new("L50.9", "Urtikaria, ospecificerad", "nässelutslag"),
        new("L89.9", "Trycksår, ospecificerat", "liggsår"),
        new("L97", "Bensår, ej klassificerat på annan plats", "venöst bensår"),
        // M Muskuloskeletala systemet
        new("M06.9", "Reumatoid artrit, ospecificerad", "ledgångsreumatism"),
        new("M10.9", "Gikt, ospecificerad", "giktartrit"),
        new("M16.9", "Höftledsartros, ospecificerad", "artros höft"),
        new("M17.9", "Knäledsartros, ospecificerad", "artros knä"),
        new("M19.9", "Artros, ospecificerad", "ledförslitning"),
        new("M25.5", "Ledvärk", "ledsmärta"),
        new("M35.3", "Polymyalgia rheumatica", "pmr"),
        new("M54.2", "Cervikalgi", "nackvärk"),
        new("M54.4", "Lumbago med ischias", "ischias ryggskott"),
        new("M54.5", "Lumbago", "ländryggsvärk ryggont"),
        new("M75.1", "Rotatorkuffsyndrom", "axelvärk"),
        new("M79.1", "Myalgi", "muskelvärk"),
        new("M79.7", "Fibromyalgi", "smärta"),
        new("M81.9", "Osteoporos, ospecificerad", "benskörhet"),
        // N Urin- och könsorganen
        new("N10", "Akut tubulointerstitiell nefrit", "pyelonefrit njurbäckeninflammation"),
        new("N17.9", "Akut njursvikt, ospecificerad", "njursvikt"),
        new("N18.3", "Kronisk njursjukdom, stadium 3", "njursvikt"),
        new("N18.9", "Kronisk njursjukdom, ospecificerad", "njursvikt"),
        new("N20.0", "Njursten", "njurstensanfall"),
        new("N30.0", "Akut cystit", "urinvägsinfektion blåskatarr"),
        new("N39.0", "Urinvägsinfektion utan angiven lokalisation", "uvi"),
        new("N39.4", "Annan specificerad urininkontinens", "inkontinens läckage"),
        new("N40", "Prostatahyperplasi", "förstorad prostata"),
        new("N95.1", "Menopaus och klimakteriella tillstånd hos kvinna", "klimakteriet"),
        // O Graviditet
        new("O21.0", "Lindrig hyperemesis gravidarum", "graviditetsillamående"),
        new("O24.4", "Diabetes mellitus som uppstått under graviditeten", "graviditetsdiabetes"),
        // R Symtom och sjukdomstecken
        new("R05", "Hosta", "hosta"),
        new("R06.0", "Dyspné", "andnöd"),
        new("R07.4", "Bröstsmärtor, ospecificerade", "bröstsmärta"),
        new("R10.4", "Andra och ospecificerade buksmärtor", "magont buksmärta"),
        new("R11", "Illamående och kräkningar", "illamående"),
        new("R42", "Yrsel", "svindel"),
        new("R50.9", "Feber, ospecificerad", "feber"),
        new("R51", "Huvudvärk", "huvudvärk"),
        new("R55", "Svimning och kollaps", "synkope"),
        new("R53", "Sjukdomskänsla och trötthet", "trötthet"),
        // S–T Skador och förgiftningar
        new("S06.0", "Hjärnskakning", "commotio"),
        new("S52.5", "Fraktur på nedre delen av radius", "handledsfraktur"),
        new("S72.0", "Fraktur på lårbenshalsen", "höftfraktur collumfraktur"),
        new("S82.6", "Fraktur på laterala malleolen", "fotledsfraktur"),
        new("S93.4", "Stukning och distorsion av fotleden", "vrickning"),
        new("T78.2", "Anafylaktisk chock, ospecificerad", "anafylaxi allergi"),
        new("T78.4", "Allergi, ospecificerad", "allergi"),
        new("T88.7", "Ospecificerad ogynnsam effekt av läkemedel", "biverkning"),
        // Z Faktorer av betydelse för hälsotillståndet
        new("Z00.0", "Allmän medicinsk undersökning", "hälsokontroll"),
        new("Z51.1", "Cytostatikabehandling", "cellgift"),
        new("Z92.1", "Antikoagulantiabehandling i den egna sjukhistorien", "waran blodförtunnande"),
        new("Z95.0", "Förekomst av pacemaker", "pacemaker"),
    ];
}
