using System.Text.Json.Nodes;
using Stadig.Fhir.Search;

namespace Stadig.Tests.Fhir.Search;

public class FhirSearchIndexerTests
{
    private static IReadOnlyList<FhirSearchValue> Extract(string json) => FhirSearchIndexer.Extract(JsonNode.Parse(json)!.AsObject());

    private static DateTimeOffset Utc(int y, int m = 1, int d = 1, int h = 0, int mi = 0, int s = 0) => new(y, m, d, h, mi, s, TimeSpan.Zero);

    [Fact]
    public void Tokens_come_from_codeable_concepts_identifiers_codes_and_booleans()
    {
        var values = Extract("""
            {"resourceType":"Observation","id":"o1","status":"final",
             "identifier":[{"system":"urn:oid:1.2.752","value":"A-1"}],
             "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"},{"system":"http://snomed.info/sct","code":"364075005"}],"text":"Puls"},
             "category":[{"coding":[{"code":"vital-signs"}]}]}
            """);
        Assert.Contains(new FhirSearchValue("status", Value: "final"), values);
        Assert.Contains(new FhirSearchValue("identifier", "urn:oid:1.2.752", "A-1"), values);
        Assert.Contains(new FhirSearchValue("code", "http://loinc.org", "8867-4"), values);
        Assert.Contains(new FhirSearchValue("code", "http://snomed.info/sct", "364075005"), values);
        Assert.Contains(new FhirSearchValue("category", null, "vital-signs"), values);
        Assert.Contains(new FhirSearchValue("active", Value: "true"), Extract("""{"resourceType":"Patient","active":true}"""));
    }

    [Fact]
    public void Human_names_index_family_each_given_and_text_folded_with_the_written_form_kept()
    {
        var values = Extract("""
            {"resourceType":"Practitioner","name":[{"family":"Öström","given":["Élise","Åsa-Li"],"text":"Élise Öström"}]}
            """);
        Assert.Contains(new FhirSearchValue("family", "Öström", "ostrom"), values);
        Assert.Contains(new FhirSearchValue("given", "Élise", "elise"), values);
        Assert.Contains(new FhirSearchValue("given", "Åsa-Li", "asa li"), values);
        Assert.Equal(["ostrom", "elise", "asa li", "elise ostrom"], values.Where(v => v.Param == "name").Select(v => v.Value));
    }

    [Fact]
    public void References_are_normalised_to_type_and_id_and_contained_or_urn_references_are_skipped()
    {
        var values = Extract("""
            {"resourceType":"DiagnosticReport","subject":{"reference":"https://fhir.example.se/r4/Patient/p1/_history/3"},
             "result":[{"reference":"Observation/o1"},{"reference":"#contained"},{"reference":"urn:uuid:8d1f0a52-3c07-4c57-9b5b-8c2a8e4f2b11"}],
             "performer":[{"display":"Lab only"}]}
            """);
        Assert.Contains(new FhirSearchValue("subject", Value: "Patient/p1"), values);
        Assert.Contains(new FhirSearchValue("patient", Value: "Patient/p1"), values);
        Assert.Equal(["Observation/o1"], values.Where(v => v.Param == "result").Select(v => v.Value));
        Assert.DoesNotContain(values, v => v.Param == "performer");
    }

    [Fact]
    public void Patient_is_indexed_only_when_the_subject_is_a_patient()
    {
        var values = Extract("""{"resourceType":"Observation","subject":{"reference":"Group/g1"}}""");
        Assert.Contains(new FhirSearchValue("subject", Value: "Group/g1"), values);
        Assert.DoesNotContain(values, v => v.Param == "patient");
    }

    [Theory]
    [InlineData("2013", "2013-01-01T00:00:00Z", "2014-01-01T00:00:00Z")]
    [InlineData("2013-02", "2013-02-01T00:00:00Z", "2013-03-01T00:00:00Z")]
    [InlineData("2013-01-14", "2013-01-14T00:00:00Z", "2013-01-15T00:00:00Z")]
    [InlineData("2013-01-14T10:00:05+01:00", "2013-01-14T09:00:05Z", "2013-01-14T09:00:06Z")]
    [InlineData("2013-01-14T10:00:05.25Z", "2013-01-14T10:00:05.25Z", "2013-01-14T10:00:05.26Z")]
    [InlineData("2013-01-14T10:00Z", "2013-01-14T10:00:00Z", "2013-01-14T10:01:00Z")]
    public void Dates_cover_their_precision(string date, string low, string high)
    {
        var value = Assert.Single(Extract($$"""{"resourceType":"Observation","effectiveDateTime":"{{date}}"}"""), v => v.Param == "date");
        Assert.Equal(DateTimeOffset.Parse(low), value.Low);
        Assert.Equal(DateTimeOffset.Parse(high), value.High);
    }

    [Theory]
    [InlineData("2013-13-45")]
    [InlineData("2013-02-30")]
    [InlineData("13-01-2013")]
    [InlineData("2013-01-14T25:00:00Z")]
    // Digits of other scripts are not FHIR dates (they threw FormatException from the parse after the pattern).
    [InlineData("٢٠١٣-٠١-١٤")]
    [InlineData("２０１３")]
    [InlineData("2013-01-14T10:00:05.٢٥Z")]
    [InlineData("2013-01-14T10:00+٠١:٠٠")]
    public void Impossible_dates_are_not_dates(string date) => Assert.False(FhirDateRange.TryParse(date, out _));

    [Fact]
    public void Periods_keep_open_ends_open_and_choice_types_are_limited_to_those_defined()
    {
        var encounter = Extract("""{"resourceType":"Encounter","period":{"start":"2013-01-14T08:00:00Z"}}""");
        Assert.Contains(new FhirSearchValue("date", Low: Utc(2013, 1, 14, 8), High: null), encounter);

        var condition = Extract("""
            {"resourceType":"Condition","onsetPeriod":{"start":"2012","end":"2012-06"},"recordedDate":"2013-01-14","abatementString":"2014"}
            """);
        Assert.Contains(new FhirSearchValue("onset-date", Low: Utc(2012), High: Utc(2012, 7)), condition);
        Assert.Contains(new FhirSearchValue("recorded-date", Low: Utc(2013, 1, 14), High: Utc(2013, 1, 15)), condition);
        Assert.DoesNotContain(condition, v => v.Param == "abatement-date");

        Assert.Contains(new FhirSearchValue("date", Low: Utc(2020, 5, 1), High: Utc(2020, 5, 2)),
            Extract("""{"resourceType":"Procedure","performedPeriod":{"start":"2020-05-01","end":"2020-05-01"}}"""));
        Assert.Contains(new FhirSearchValue("date", Low: Utc(2021), High: Utc(2022)),
            Extract("""{"resourceType":"Immunization","occurrenceDateTime":"2021"}"""));
    }

    [Fact]
    public void Quantities_keep_number_system_and_unit_and_id_and_last_updated_are_not_indexed()
    {
        var values = Extract("""
            {"resourceType":"Observation","id":"o1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"},
             "valueQuantity":{"value":5.4,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}
            """);
        Assert.Equal([new FhirSearchValue("value-quantity", "http://unitsofmeasure.org", "mmol/L", Number: 5.4)], values);
    }

    [Fact]
    public void Medication_code_is_taken_from_a_codeable_concept_or_a_contained_product_and_a_reference_is_only_the_medication_parameter()
    {
        var values = Extract("""
            {"resourceType":"MedicationRequest","medicationCodeableConcept":{"coding":[{"system":"urn:npl","code":"123"}]},
             "subject":{"reference":"Patient/p1"},"authoredOn":"2024-02-03"}
            """);
        Assert.Contains(new FhirSearchValue("code", "urn:npl", "123"), values);
        Assert.Contains(new FhirSearchValue("patient", Value: "Patient/p1"), values);
        Assert.Equal([new FhirSearchValue("medication", Value: "Medication/m1")],
            Extract("""{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/m1"}}"""));
        // Stadig's own ordinations name a contained product (#product): its code is the request's code.
        var contained = Extract("""
            {"resourceType":"MedicationStatement","contained":[{"resourceType":"Medication","id":"product","code":{"coding":[{"system":"http://www.whocc.no/atc","code":"N02BE01"}]}}],
             "medicationReference":{"reference":"#product"},"subject":{"reference":"Patient/p1"},"status":"active"}
            """);
        Assert.Contains(new FhirSearchValue("code", "http://www.whocc.no/atc", "N02BE01"), contained);
        Assert.DoesNotContain(contained, v => v.Param == "medication");
    }
}
