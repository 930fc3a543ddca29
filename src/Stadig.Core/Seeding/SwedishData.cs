namespace Stadig.Seeding;

/// <summary>
/// The word lists the synthetic region is made of: common Swedish names, streets and towns, and
/// clinical text. Written for Stadig; the names are common enough that no list member points at a
/// person, and the identity numbers they are paired with can never be real (see IdentityNumbers).
/// </summary>
internal static class SwedishData
{
    // Most common first: the generator weights earlier entries higher, as in the population.
    public static readonly string[] FemaleGivenNames =
    [
        "Anna", "Eva", "Maria", "Karin", "Sara", "Kristina", "Lena", "Emma", "Kerstin", "Ingrid",
        "Marie", "Malin", "Jenny", "Hanna", "Linnéa", "Elin", "Birgitta", "Inger", "Ida", "Annika",
        "Susanne", "Johanna", "Sofia", "Elisabeth", "Ulla", "Monica", "Julia", "Linda", "Camilla", "Helena",
        "Åsa", "Margareta", "Gunilla", "Maja", "Alice", "Ella", "Wilma", "Ebba", "Alva", "Astrid",
        "Elsa", "Saga", "Agnes", "Freja", "Signe", "Vera", "Klara", "Ellen", "Moa", "Stina",
        "Louise", "Cecilia", "Ulrika", "Agneta", "Barbro", "Britt", "Gun", "Siv", "Märta", "Solveig",
        "Yvonne", "Therese", "Matilda", "Frida", "Lovisa", "Tove", "Nora", "Ines", "Selma", "Majken",
        "Elvira", "Ylva", "Josefin", "Emelie", "Amanda", "Rebecka", "Jessica", "Caroline", "Pia", "Ann-Sofie",
        "Gudrun", "Ingegerd", "Viola", "Dagny", "Greta", "Ester", "Lilly", "Edith", "Hedvig", "Tilde",
        "Mona", "Eva-Lena", "Lisbeth", "Annelie", "Charlotte", "Mikaela", "Nathalie", "Fatima", "Leila", "Amira",
    ];

    public static readonly string[] MaleGivenNames =
    [
        "Lars", "Mikael", "Anders", "Johan", "Per", "Erik", "Karl", "Peter", "Jan", "Thomas",
        "Daniel", "Fredrik", "Hans", "Bengt", "Andreas", "Sven", "Stefan", "Magnus", "Mats", "Bo",
        "Nils", "Jonas", "Göran", "Marcus", "Martin", "Alexander", "Oskar", "Leif", "Björn", "Ulf",
        "Lennart", "Gustav", "Olof", "Kent", "Håkan", "Rolf", "Sebastian", "Simon", "Viktor", "Emil",
        "Anton", "Axel", "William", "Liam", "Noah", "Hugo", "Lucas", "Elias", "Oliver", "Adam",
        "Isak", "Ludvig", "Filip", "Vincent", "Theo", "Arvid", "Sixten", "Otto", "Ebbe", "Åke",
        "Gösta", "Sture", "Torbjörn", "Kjell", "Rune", "Roger", "Christer", "Patrik", "Joakim", "Tobias",
        "Niklas", "Robin", "Jesper", "Rasmus", "Albin", "Melvin", "Leo", "Alvar", "Harry", "Folke",
        "Ingvar", "Gunnar", "Sten", "Evert", "Arne", "Tage", "Holger", "Birger", "Einar", "Ragnar",
        "Jörgen", "Pär", "Claes", "Tommy", "Mohammed", "Ali", "Ahmed", "Omar", "Jan-Erik", "Karl-Johan",
    ];

    public static readonly string[] FamilyNames =
    [
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson",
        "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Olofsson",
        "Lindström", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren", "Lundqvist",
        "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg", "Sjöberg", "Wallin", "Ali", "Engström",
        "Mohamed", "Eklund", "Danielsson", "Lundin", "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström",
        "Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren", "Söderberg", "Nyberg",
        "Blomqvist", "Claesson", "Nordström", "Mårtensson", "Lundström", "Viklund", "Björklund", "Eliasson", "Pålsson", "Berggren",
        "Sandström", "Lund", "Nordin", "Ström", "Åberg", "Hermansson", "Ekström", "Holmgren", "Sundberg", "Hedlund",
        "Dahlberg", "Hellström", "Sjögren", "Abrahamsson", "Falk", "Öberg", "Martinsson", "Andreasson", "Blom", "Ek",
        "Månsson", "Strand", "Åström", "Öström", "Hassan", "Nguyen", "Johnsson", "Sundström", "Lindholm", "Åkesson",
    ];

    public static readonly string[] Streets =
    [
        "Storgatan", "Kungsgatan", "Drottninggatan", "Skolgatan", "Kyrkogatan", "Järnvägsgatan", "Parkvägen", "Björkvägen",
        "Tallvägen", "Granvägen", "Ekvägen", "Lindvägen", "Ringvägen", "Västra vägen", "Östra Ågatan", "Svartbäcksgatan",
        "Sysslomansgatan", "Vaksalagatan", "Skolvägen", "Idrottsvägen", "Sjövägen", "Strandvägen", "Bäckvägen", "Ängsvägen",
        "Lärkvägen", "Hagavägen", "Solvägen", "Villavägen", "Backvägen", "Torggatan", "Nygatan", "Trädgårdsgatan",
        "Prästgårdsvägen", "Kvarngatan", "Smedjegatan", "Gröna gången", "Rönnvägen", "Almvägen", "Aspvägen", "Kastanjevägen",
        "Hantverkargatan", "Fabriksgatan", "Sjukhusvägen", "Mejerivägen", "Gärdesvägen", "Bruksgatan", "Åsvägen", "Högbergsgatan",
    ];

    /// <summary>Towns with the first three digits of their postal codes.</summary>
    public static readonly (string City, int PostalPrefix)[] Towns =
    [
        ("Uppsala", 752), ("Uppsala", 753), ("Uppsala", 754), ("Uppsala", 756), ("Enköping", 745), ("Östhammar", 742),
        ("Tierp", 815), ("Knivsta", 741), ("Heby", 744), ("Västerås", 722), ("Västerås", 724), ("Sala", 733),
        ("Gävle", 802), ("Gävle", 803), ("Norrtälje", 761), ("Sigtuna", 193), ("Örebro", 702), ("Örebro", 703),
        ("Eskilstuna", 632), ("Nyköping", 611), ("Falun", 791), ("Borlänge", 784), ("Sandviken", 811), ("Älvkarleby", 814),
    ];

    public static readonly string[] EmailDomains = ["example.se", "example.com", "exempel.se"];

    /// <summary>One kind of illness: the text each keyword (sökord) of a note about it may carry.</summary>
    public sealed record Scenario(
        string Reason,
        string[] Aktuellt,
        string[] Anamnes,
        string[] Status,
        string[] Bedomning,
        string[] Atgard,
        bool Inpatient);

    public static readonly Scenario[] Scenarios =
    [
        new("bröstsmärta",
            ["Söker för tryckkänsla i bröstet sedan i morse.", "Kommer på remiss från vårdcentralen för utredning av bröstsmärta vid ansträngning."],
            ["Tidigare frisk. Röker inte. Ärftlighet för hjärt-kärlsjukdom (far hjärtinfarkt vid 60 års ålder).", "Hypertoni sedan flera år, behandlas med enalapril. Inga tidigare hjärtbesvär."],
            ["AT: Opåverkad. Cor: Regelbunden rytm, inga blåsljud. Pulm: Vesikulärt andningsljud bilateralt. BT 142/88. EKG: Sinusrytm, inga ST-förändringar.",
             "AT: Lätt smärtpåverkad. Cor: RR, inga blåsljud. Pulm: Ua. Inga bensvullnader. EKG utan ischemitecken."],
            ["Inga bröstsmärtor i vila. Troponin T normalt vid två tillfällen. Låg misstanke om akut koronart syndrom.", "Misstänkt stabil kärlkramp. Ingen pågående ischemi."],
            ["Arbets-EKG bokas. Förskriver nitroglycerin vid behov. Återbesök om fyra veckor.", "Hem med råd. Åter vid förnyade besvär. Ingen ändring av läkemedel."],
            true),
        new("feber och hosta",
            ["Feber och hosta i fem dagar, tilltagande andfåddhet.", "Hosta med missfärgade upphostningar, frossa sedan igår."],
            ["KOL sedan 2018. Exrökare. Inga kända allergier.", "Tidigare frisk. Inga läkemedel. Ingen utlandsresa."],
            ["AT: Trött men opåverkad. Temp 38,9. Pulm: Krepitationer basalt höger. Andningsfrekvens 22. Saturation 93 % på luft.",
             "AT: Opåverkad. Temp 37,2. Pulm: Vesikulärt andningsljud, inga biljud. Saturation 97 %."],
            ["Samhällsförvärvad pneumoni höger underlob. CRP 142.", "Virusinfektion i luftvägarna. Ingen feber vid besöket, ingen pneumoni."],
            ["Inläggning för intravenöst bensylpenicillin. Lungröntgen. Kontroll av saturation var fjärde timme.", "Ingen antibiotika. Egenvårdsråd. Åter vid försämring."],
            true),
        new("urinvägsbesvär",
            ["Sveda vid miktion och täta trängningar sedan tre dagar.", "Ringer om smärta vid vattenkastning, ingen feber."],
            ["Inga tidigare urinvägsinfektioner det senaste året. Ej gravid.", "Diabetes typ 2. Tablettbehandlad."],
            ["AT: Opåverkad. Ingen dunkeldömhet över njurloger. U-sticka: leukocyter 2+, nitrit positiv.",
             "Afebril. Buk mjuk och oöm. Ingen njurlogeömhet."],
            ["Okomplicerad nedre urinvägsinfektion. Inget blod i urinen, ingen feber.", "Cystit. Inga tecken på pyelonefrit."],
            ["Pivmecillinam 400 mg 1 x 3 i 3 dagar. Åter om inte bättre inom en vecka.", "Nitrofurantoin enligt recept. Urinodling skickad."],
            false),
        new("diabeteskontroll",
            ["Årskontroll av diabetes typ 2.", "Kontroll efter insättning av metformin."],
            ["Diabetes typ 2 sedan 2015. Metformin 1 g x 2. Inga hypoglykemier.", "Hypertoni och diabetes. Inga känningar av låga sockervärden."],
            ["BT 134/82. Vikt 92 kg. Fötter: Palpabla fotpulsar, normal sensibilitet, inga sår.",
             "BT 128/76. Inga fotsår. Monofilament normalt bilateralt."],
            ["Välreglerad diabetes, HbA1c 48. Inga tecken på neuropati.", "HbA1c 61, något förhöjt. Inga komplikationer."],
            ["Oförändrad behandling. Remiss till ögonbottenfotografering. Nytt HbA1c om sex månader.", "Ökar metformin. Kostrådgivning hos diabetessjuksköterska."],
            false),
        new("hjärtsvikt",
            ["Tilltagande andfåddhet och bensvullnad senaste veckan.", "Nattlig andnöd, sover med tre kuddar."],
            ["Känd hjärtsvikt, EF 35 %. Förmaksflimmer, Waran.", "Hjärtinfarkt 2016. Behandlas med furosemid och bisoprolol."],
            ["AT: Lätt dyspné i vila. Cor: Oregelbunden rytm, frekvens 96. Pulm: Basala rassel bilateralt. Pittingödem till knäna.",
             "AT: Opåverkad i vila. Cor: RR 72. Pulm: Ua. Inga ödem."],
            ["Försämrad hjärtsvikt. Ingen bröstsmärta, troponin normalt.", "Kompenserad hjärtsvikt. Ingen vätskeretention."],
            ["Inläggning. Furosemid intravenöst. Daglig vikt, vätskelista.", "Oförändrad medicinering. Kontroll av kreatinin och kalium om två veckor."],
            true),
        new("magsjuka",
            ["Kräkningar och diarré sedan två dygn.", "Buksmärtor och lös avföring sedan i förrgår."],
            ["Flera i familjen har samma symtom. Inga läkemedel.", "Tidigare frisk. Ingen utlandsresa."],
            ["AT: Opåverkad. Något torra slemhinnor. Buk mjuk, lätt diffus ömhet, ingen défense.",
             "Afebril. Buk mjuk och oöm. Normala tarmljud."],
            ["Trolig viral gastroenterit. Ingen feber, inget blod i avföringen.", "Gastroenterit utan uttorkning."],
            ["Vätskeersättning. Åter vid tecken på uttorkning.", "Råd om vätskeintag och handhygien."],
            false),
        new("ryggsmärta",
            ["Ländryggssmärta sedan lyft för fyra dagar sedan.", "Ryggvärk som strålar ned i vänster ben."],
            ["Tidigare ryggbesvär 2019. Arbetar som undersköterska.", "Inga kända sjukdomar. Tar ibuprofen vid behov."],
            ["Palpationsöm paravertebralt L4–L5. Lasègue negativ bilateralt. Normal kraft och sensibilitet i benen.",
             "Lasègue positiv vänster vid 50 grader. Reflexer lika. Ingen sadelanestesi."],
            ["Lumbago utan neurologiska bortfall. Inga varningsflaggor.", "Misstänkt ischias vänster. Ingen pares, ingen blåspåverkan."],
            ["Fortsatt aktivitet. Paracetamol. Remiss till fysioterapeut.", "Smärtlindring. Åter om försämring eller blåsbesvär."],
            false),
        new("fall med höftsmärta",
            ["Föll hemma i natt, kan inte stödja på höger ben.", "Fallit i badrummet, smärta i vänster höft."],
            ["Osteoporos. Bor ensam med hemtjänst två gånger dagligen.", "Parkinsons sjukdom. Flera fall senaste året."],
            ["Höger ben förkortat och utåtroterat. Distalt status ua. Inga huvudskador.",
             "Smärta vid rörelse i vänster höft. Ingen förkortning. Ingen medvetandepåverkan."],
            ["Collum femoris-fraktur höger, verifierad på röntgen.", "Kontusion vänster höft. Ingen fraktur på röntgen."],
            ["Inläggning på ortopeden för operation. Fasta från midnatt. Trombosprofylax.", "Smärtlindring och mobilisering. Fallriskbedömning."],
            true),
        new("förhöjt blodtryck",
            ["Uppföljning av blodtryck efter hemmamätningar.", "Blodtryckskontroll."],
            ["Hemmablodtryck runt 150/95. Inga huvudvärk eller synbesvär.", "Hypertoni sedan 2020. Amlodipin 5 mg."],
            ["BT 148/92 höger arm, 146/90 vänster. Cor: RR, inga blåsljud.", "BT 132/84. Puls 68 regelbunden."],
            ["Obehandlad hypertoni. Inga tecken på organskada.", "Välbehandlad hypertoni."],
            ["Insätter amlodipin 5 mg. Blodtryckskontroll hos sjuksköterska om fyra veckor.", "Fortsatt samma behandling. Årlig kontroll."],
            false),
    ];

    public static readonly string[] DailyStatus =
    [
        "Sovit gott i natt. Afebril. Äter och dricker bra.",
        "Ingen feber senaste dygnet. Mobiliseras med rollator.",
        "Orolig i natt, fick haloperidol 0,5 mg. Nu lugn och orienterad.",
        "Inga bröstsmärtor. Saturation 95 % på luft. Diures god.",
        "Smärtan bättre. Ingen illamående. Har varit uppe och gått i korridoren.",
    ];

    public static readonly string[] DailyPlan =
    [
        "Fortsätter nuvarande behandling. Nya prover i morgon.",
        "Planerar utskrivning i morgon om fortsatt stabil.",
        "Byter till peroral antibiotika. Dietistkontakt.",
        "Oförändrat. Ronderas i morgon.",
    ];

    public static readonly string[] PhoneReasons =
    [
        "Patienten ringer och undrar över provsvar.",
        "Anhörig ringer, patienten har haft feber i två dagar.",
        "Ringer om receptförnyelse.",
        "Frågar om biverkningar av nyinsatt läkemedel. Ingen andnöd, inga hudutslag.",
    ];

    public static readonly string[] PhoneAdvice =
    [
        "Provsvaren är normala. Inga åtgärder.",
        "Ingen feber i dag. Råd om vätska och vila. Åter vid försämring.",
        "Recept förnyat på ett år.",
        "Besök bokas på vårdcentralen i morgon.",
    ];

    public static readonly string[] FollowUp =
    [
        "Återbesök på mottagningen om tre månader.",
        "Uppföljning på vårdcentralen om två veckor.",
        "Ingen planerad uppföljning. Åter vid behov.",
        "Hemtjänst återupptas. Distriktssköterska tar kontroll av sår.",
    ];

    /// <summary>A laboratory analysis with its adult reference interval (sex-specific where it differs).</summary>
    public sealed record Analysis(
        string Code, string Name, string Unit, double FemaleLow, double FemaleHigh, double MaleLow, double MaleHigh, int Decimals, bool LowerBoundOnly = false, bool UpperBoundOnly = false);

    // The region's lab catalogue is the one definition of an analysis (code, name, unit, interval),
    // so the demo region's results meet orders and trends under the same NPU codes. The seeded rows
    // carry the interval of a 30-year-old as the lab's own range. The order is the seeder's.
    private static readonly string[] SeededCodes =
        ["NPU28309", "NPU03429", "NPU03230", "NPU04998", "NPU19748", "NPU02192", "NPU02593", "NPU03568", "NPU19651", "NPU27300", "NPU03577"];

    public static readonly Analysis[] Analyses = SeededCodes.Select(code =>
    {
        var a = Orders.AnalysisCatalogue.Find(code)!;
        var female = a.IntervalFor(Patients.Identifiers.Sex.Female, 30)!;
        var male = a.IntervalFor(Patients.Identifiers.Sex.Male, 30)!;
        return new Analysis(a.Code, a.Name, a.Unit, female.Low ?? 0, female.High!.Value, male.Low ?? 0, male.High!.Value, a.Decimals,
            UpperBoundOnly: female.Low is null);
    }).ToArray();

    public static readonly string[] Allergens = ["Penicillin", "Sulfonamider", "Jodkontrastmedel", "Latex", "Jordnötter", "Acetylsalicylsyra", "Kodein", "Bisonstick"];
    public static readonly string[] Reactions = ["Urtikaria", "Anafylaxi", "Andningsbesvär", "Exantem", "Angioödem", "Illamående och kräkningar"];

    public static readonly (string Category, string Text)[] OtherWarnings =
    [
        ("SeriousDisease", "Addisons sjukdom – behöver extra kortison vid feber och operation."),
        ("SeriousDisease", "Myasthenia gravis."),
        ("SeriousDisease", "Långt QT-syndrom."),
        ("Treatment", "Behandlas med warfarin (Waran). Kontrollera PK(INR) före ingrepp."),
        ("Treatment", "Pacemaker. Ej MR utan kontroll av pacemakermodell."),
        ("Treatment", "Behandlas med apixaban (Eliquis)."),
        ("CommunicableDisease", "Bärare av MRSA."),
        ("CommunicableDisease", "ESBL-producerande E. coli i urinodling."),
        ("CommunicableDisease", "Hepatit C."),
        ("RestrictionOfCare", "Ej HLR enligt beslut av ansvarig läkare efter samtal med patient och närstående."),
        ("RestrictionOfCare", "Avstår blodtransfusion av religiösa skäl (patientens eget beslut)."),
        ("Unstructured", "Svår stickrädsla – lokalbedövande kräm före provtagning."),
        ("Unstructured", "Nedsatt hörsel – tala tydligt, använd hörslinga."),
        ("Unstructured", "Svår klaustrofobi."),
    ];

    public static readonly (string Given, string Family)[] StaffNames =
    [
        ("Karin", "Ekdahl"), ("Johan", "Wester"), ("Sara", "Blomberg"), ("Peter", "Almqvist"), ("Maria", "Hedberg"),
        ("Anders", "Tornberg"), ("Eva", "Lilja"), ("Erik", "Sandell"), ("Lena", "Rydén"), ("Magnus", "Hallberg"),
        ("Ingrid", "Nordqvist"), ("Fredrik", "Carlström"), ("Hanna", "Ljung"), ("Mikael", "Bäckström"), ("Sofia", "Grahn"),
        ("Henrik", "Ahlgren"), ("Cecilia", "Frisk"), ("Daniel", "Boström"), ("Malin", "Sjödin"), ("Jonas", "Ekholm"),
        ("Anna", "Rosén"), ("Per", "Lindblad"), ("Elin", "Dahlin"), ("Stefan", "Wahlberg"), ("Helena", "Nyman"),
        ("Martin", "Strömberg"), ("Johanna", "Öhman"), ("Tobias", "Hjort"), ("Emma", "Sund"), ("Oskar", "Kvist"),
        ("Linda", "Edlund"), ("Niklas", "Åhlund"), ("Camilla", "Berlin"), ("David", "Forsman"), ("Therese", "Löfstedt"),
        ("Mattias", "Granqvist"), ("Ulrika", "Backman"), ("Viktor", "Elmér"), ("Frida", "Östlund"), ("Gustav", "Hedin"),
    ];
}
