using System.Text.Json.Nodes;
using Stadig.Fhir;
using Stadig.Fhir.Validation;

namespace Stadig.Tests.Fhir.Validation;

/// <summary>Each kind of error is reported once, with its issue-type code and the FHIRPath of the element at fault.</summary>
public class FhirValidatorTests
{
    private static IReadOnlyList<FhirIssue> Validate(string json) => FhirValidator.Validate(JsonNode.Parse(json)!.AsObject());

    private static FhirIssue SingleIssue(string json)
    {
        var issues = Validate(json);
        Assert.True(issues.Count == 1, "Expected one issue, got: " + string.Join("\n", issues.Select(i => $"{i.Code} at {i.Expression}: {i.Diagnostics}")));
        Assert.Equal("error", issues[0].Severity);
        return issues[0];
    }

    private static void AssertIssue(string json, string code, string expression)
    {
        var issue = SingleIssue(json);
        Assert.Equal(code, issue.Code);
        Assert.Equal(expression, issue.Expression);
        Assert.False(string.IsNullOrWhiteSpace(issue.Diagnostics));
    }

    [Fact]
    public void A_valid_patient_has_no_issues()
    {
        Assert.Empty(Validate("""
            {"resourceType":"Patient","id":"p-1","active":true,"gender":"female","birthDate":"1970-03-01",
             "name":[{"family":"Andersson","given":["Anna","Maria"]}],
             "_birthDate":{"extension":[{"url":"http://example.org/time","valueTime":"08:30:00"}]},
             "identifier":[{"system":"http://electronichealth.se/identifier/personnummer","value":"197003012386"}],
             "managingOrganization":{"reference":"Organization/org-1"},
             "contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}]}]}]}
            """));
    }

    [Fact]
    public void Unknown_element_is_named()
    {
        var issue = SingleIssue("""{"resourceType":"Patient","name":[{"family":"A","nickname":"B"}]}""");
        Assert.Equal("structure", issue.Code);
        Assert.Equal("Patient.name[0].nickname", issue.Expression);
        Assert.Contains("nickname", issue.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public void Extension_sibling_of_a_complex_element_is_unknown_too()
    {
        AssertIssue("""{"resourceType":"Patient","_name":{"id":"x"}}""", "structure", "Patient._name");
    }

    [Fact]
    public void Extension_sibling_may_hold_only_id_and_extension()
    {
        AssertIssue("""{"resourceType":"Patient","_gender":{"value":"female"}}""", "structure", "Patient._gender.value");
    }

    [Fact]
    public void Object_where_a_primitive_belongs_is_the_wrong_type()
    {
        AssertIssue("""{"resourceType":"Patient","gender":{"code":"female"}}""", "structure", "Patient.gender");
    }

    [Fact]
    public void String_where_a_primitive_is_expected_as_a_complex_value_is_the_wrong_type()
    {
        AssertIssue("""{"resourceType":"Patient","maritalStatus":"M"}""", "structure", "Patient.maritalStatus");
    }

    [Fact]
    public void String_for_a_number_is_the_wrong_type()
    {
        AssertIssue("""{"resourceType":"Patient","multipleBirthInteger":"2"}""", "structure", "Patient.multipleBirthInteger");
    }

    [Fact]
    public void String_for_a_boolean_is_the_wrong_type()
    {
        AssertIssue("""{"resourceType":"Patient","active":"true"}""", "structure", "Patient.active");
    }

    [Fact]
    public void Fraction_for_an_integer_is_a_bad_value()
    {
        AssertIssue("""{"resourceType":"Patient","multipleBirthInteger":1.5}""", "value", "Patient.multipleBirthInteger");
    }

    [Fact]
    public void Zero_is_no_positiveInt()
    {
        AssertIssue("""
            {"resourceType":"Claim","status":"active","type":{"text":"x"},"use":"claim","patient":{"reference":"Patient/1"},
             "created":"2024-01-01","provider":{"reference":"Organization/1"},"priority":{"text":"normal"},
             "insurance":[{"sequence":0,"focal":true,"coverage":{"reference":"Coverage/1"}}]}
            """, "value", "Claim.insurance[0].sequence");
    }

    [Fact]
    public void Array_for_a_single_element_is_refused()
    {
        AssertIssue("""{"resourceType":"Patient","gender":["female"]}""", "structure", "Patient.gender");
    }

    [Fact]
    public void Single_value_for_a_repeating_element_is_refused()
    {
        AssertIssue("""{"resourceType":"Patient","name":{"family":"A"}}""", "structure", "Patient.name");
    }

    [Fact]
    public void Empty_array_is_refused()
    {
        AssertIssue("""{"resourceType":"Patient","name":[]}""", "structure", "Patient.name");
    }

    [Fact]
    public void Empty_string_is_refused()
    {
        AssertIssue("""{"resourceType":"Patient","name":[{"family":""}]}""", "value", "Patient.name[0].family");
    }

    [Fact]
    public void Missing_required_element_is_reported_at_its_path()
    {
        AssertIssue("""{"resourceType":"Observation","code":{"text":"Puls"}}""", "required", "Observation.status");
    }

    [Fact]
    public void Missing_required_element_inside_a_backbone_element()
    {
        AssertIssue("""{"resourceType":"Patient","link":[{"type":"seealso"}]}""", "required", "Patient.link[0].other");
    }

    [Fact]
    public void Missing_required_element_inside_a_datatype()
    {
        AssertIssue("""{"resourceType":"Patient","extension":[{"valueString":"x"}]}""", "required", "Patient.extension[0].url");
    }

    [Fact]
    public void Primitive_given_only_by_its_extensions_counts_as_present()
    {
        Assert.Empty(Validate("""
            {"resourceType":"Observation","_status":{"extension":[{"url":"http://example.org/why","valueString":"unknown"}]},"code":{"text":"Puls"}}
            """));
    }

    [Fact]
    public void Bad_code_in_a_required_binding()
    {
        var issue = SingleIssue("""{"resourceType":"Patient","gender":"kvinna"}""");
        Assert.Equal("code-invalid", issue.Code);
        Assert.Equal("Patient.gender", issue.Expression);
        Assert.Contains("administrative-gender", issue.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_code_in_a_required_binding_of_a_codeable_concept()
    {
        AssertIssue("""
            {"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},
             "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"aktiv"}]}}
            """, "code-invalid", "AllergyIntolerance.clinicalStatus.coding[0].code");
    }

    [Fact]
    public void Codings_from_other_systems_in_a_required_binding_are_translations_and_pass()
    {
        Assert.Empty(Validate("""
            {"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},
             "clinicalStatus":{"coding":[{"system":"http://example.org/local","code":"aktiv"}]}}
            """));
    }

    [Theory]
    [InlineData("1970-13-01")]
    [InlineData("1970-02-30T")]
    [InlineData("19700201")]
    [InlineData("70-02-01")]
    public void Bad_date(string date)
    {
        AssertIssue($$"""{"resourceType":"Patient","birthDate":"{{date}}"}""", "value", "Patient.birthDate");
    }

    [Theory]
    [InlineData("2024-05-01T13:30:00")]
    [InlineData("2024-05-01T13:30+02:00")]
    [InlineData("2024-05-01 13:30:00Z")]
    public void DateTime_with_a_time_needs_seconds_and_a_time_zone(string dateTime)
    {
        AssertIssue($$"""{"resourceType":"Condition","subject":{"reference":"Patient/1"},"recordedDate":"{{dateTime}}"}""", "value", "Condition.recordedDate");
    }

    [Theory]
    [InlineData("2024")]
    [InlineData("2024-05")]
    [InlineData("2024-05-01T13:30:00.123+02:00")]
    [InlineData("2024-05-01T13:30:00Z")]
    public void Good_dateTimes_pass(string dateTime)
    {
        Assert.Empty(Validate($$"""{"resourceType":"Condition","subject":{"reference":"Patient/1"},"recordedDate":"{{dateTime}}"}"""));
    }

    [Fact]
    public void Bad_id()
    {
        AssertIssue("""{"resourceType":"Patient","id":"p_1"}""", "value", "Patient.id");
    }

    [Fact]
    public void Code_with_surrounding_whitespace_is_a_bad_value()
    {
        AssertIssue("""{"resourceType":"Patient","language":" sv"}""", "value", "Patient.language");
    }

    [Fact]
    public void Two_choice_values_are_refused()
    {
        AssertIssue("""
            {"resourceType":"Observation","status":"final","code":{"text":"Puls"},"valueString":"72","valueQuantity":{"value":72}}
            """, "structure", "Observation.valueQuantity");
    }

    [Fact]
    public void Choice_of_a_type_the_element_does_not_allow_is_unknown()
    {
        AssertIssue("""
            {"resourceType":"Observation","status":"final","code":{"text":"Puls"},"valueAddress":{"city":"Lund"}}
            """, "structure", "Observation.valueAddress");
    }

    [Fact]
    public void Missing_required_choice_element_is_named_with_x()
    {
        var issue = SingleIssue("""{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}""");
        Assert.Equal("required", issue.Code);
        Assert.Equal("MedicationRequest.medication", issue.Expression);
        Assert.Contains("medication[x]", issue.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public void Reference_to_a_type_the_element_does_not_allow()
    {
        AssertIssue("""{"resourceType":"Patient","managingOrganization":{"reference":"Practitioner/1"}}""", "invalid", "Patient.managingOrganization.reference");
    }

    [Fact]
    public void Absolute_RESTful_reference_to_a_type_the_element_does_not_allow()
    {
        AssertIssue("""{"resourceType":"Patient","managingOrganization":{"reference":"https://fhir.example.org/r4/Practitioner/1"}}""", "invalid", "Patient.managingOrganization.reference");
    }

    [Theory]
    [InlineData("Organization/1")]
    [InlineData("Organization/1/_history/3")]
    [InlineData("https://fhir.example.org/r4/Organization/1")]
    [InlineData("urn:uuid:2f1f3bc4-0c1e-4bd1-9f21-3b6a3c9c1d2e")]
    [InlineData("#org")]
    public void Good_reference_forms_pass(string reference)
    {
        Assert.Empty(Validate($$$"""{"resourceType":"Patient","managingOrganization":{"reference":"{{{reference}}}"}}"""));
    }

    [Theory]
    [InlineData("Organization 1")]
    [InlineData("Organisation/1")]
    [InlineData("urn:uuid:not-a-uuid")]
    [InlineData("Organization/")]
    public void Bad_reference_forms_are_bad_values(string reference)
    {
        AssertIssue($$$"""{"resourceType":"Patient","managingOrganization":{"reference":"{{{reference}}}"}}""", "value", "Patient.managingOrganization.reference");
    }

    [Fact]
    public void Unsupported_resource_type()
    {
        var issue = SingleIssue("""{"resourceType":"Appointment","status":"booked"}""");
        Assert.Equal("not-supported", issue.Code);
        Assert.Contains("Appointment", issue.Diagnostics, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_resource_type()
    {
        Assert.Equal("required", SingleIssue("""{"id":"1"}""").Code);
    }

    [Fact]
    public void Contained_resource_is_validated_as_its_own_type()
    {
        AssertIssue("""
            {"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"org","name":"Vårdcentral","colour":"blue"}],
             "managingOrganization":{"reference":"#org"}}
            """, "structure", "Patient.contained[0].colour");
    }

    [Fact]
    public void A_contained_resource_must_be_an_R4_type_and_is_kept_whole_when_Stadig_has_no_definition_for_it()
    {
        AssertIssue("""{"resourceType":"Patient","contained":[{"resourceType":"Appointmentx","id":"a"}]}""", "not-supported", "Patient.contained[0]");
        Assert.Empty(FhirValidator.Validate((JsonObject)JsonNode.Parse("""{"resourceType":"Patient","contained":[{"resourceType":"Appointment","id":"a"}]}""")!));
    }

    [Fact]
    public void Bundle_entry_resource_is_validated_as_its_own_type()
    {
        AssertIssue("""
            {"resourceType":"Bundle","type":"collection","entry":[
              {"fullUrl":"urn:uuid:2f1f3bc4-0c1e-4bd1-9f21-3b6a3c9c1d2e","resource":{"resourceType":"Patient","active":true}},
              {"resource":{"resourceType":"Observation","status":"final","code":{"text":"Puls"},"valueQuantity":{"value":"72"}}}]}
            """, "structure", "Bundle.entry[1].resource.valueQuantity.value");
    }

    [Fact]
    public void Content_reference_elements_take_their_definition_from_the_referenced_element()
    {
        Assert.Empty(Validate("""
            {"resourceType":"Bundle","type":"searchset","entry":[{"link":[{"relation":"self","url":"https://x.example/Patient/1"}],
             "resource":{"resourceType":"Patient"}}]}
            """));
        AssertIssue("""
            {"resourceType":"Bundle","type":"searchset","entry":[{"link":[{"relation":"self"}]}]}
            """, "required", "Bundle.entry[0].link[0].url");
    }

    [Fact]
    public void Primitive_arrays_line_up_with_their_extension_arrays()
    {
        Assert.Empty(Validate("""
            {"resourceType":"Patient","name":[{"given":["Anna",null],"_given":[null,{"extension":[{"url":"http://example.org/x","valueBoolean":true}]}]}]}
            """));
        AssertIssue("""{"resourceType":"Patient","name":[{"given":["Anna",null]}]}""", "structure", "Patient.name[0].given[1]");
    }

    [Fact]
    public void Narrative_must_be_xhtml_div()
    {
        AssertIssue("""{"resourceType":"Patient","text":{"status":"generated","div":"plain text"}}""", "value", "Patient.text.div");
    }

    [Fact]
    public void String_longer_than_a_megabyte_is_too_long()
    {
        var issue = FhirValidator.Validate(new JsonObject
        {
            ["resourceType"] = "Patient",
            ["name"] = new JsonArray(new JsonObject { ["text"] = new string('a', 1024 * 1024 + 1) }),
        });
        Assert.Equal("too-long", Assert.Single(issue).Code);
    }

    [Fact]
    public void Every_supported_type_is_known_and_the_unchecked_value_sets_are_listed()
    {
        Assert.Equal(32, FhirValidator.SupportedResourceTypes.Count);
        Assert.Contains("http://hl7.org/fhir/ValueSet/mimetypes", FhirValidator.UncheckedRequiredValueSets);
    }
}
