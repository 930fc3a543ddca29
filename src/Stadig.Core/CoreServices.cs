using Stadig.Access;
using Stadig.Audit;
using Stadig.Chart;
using Stadig.Organisation;
using Stadig.Patients;
using Stadig.Patients.Identifiers;
using Stadig.Storage;

namespace Stadig;

/// <summary>
/// The record's services wired together without a DI container, for the command-line verbs,
/// benchmarks and tests. The web host registers the same classes in its container.
/// </summary>
public sealed class CoreServices
{
    public required Database Database { get; init; }
    public required TimeProvider Clock { get; init; }
    public required AuditLog Audit { get; init; }
    public required PatientCheckpoint Checkpoint { get; init; }
    public required AccessControl Access { get; init; }
    public required PatientRegistry Patients { get; init; }
    public required PatientChart Chart { get; init; }
    public required PatientRecord Record { get; init; }
    public required StaffDirectory Staff { get; init; }
    public required Notes.ClinicalNotes Notes { get; init; }
    public required LabResults.ResultQuarantine Quarantine { get; init; }
    public required LabResults.MessageTracking Messages { get; init; }
    public required LabResults.ResultInbox Inbox { get; init; }
    public required LabResults.ResultTrends Trends { get; init; }
    public required LabResults.ResultAttachments Attachments { get; init; }
    public required LabResults.ResultReports Reports { get; init; }
    public required Orders.LabOrders Orders { get; init; }
    public required Orders.OrderOutbox Outbox { get; init; }
    public required Warnings.PatientWarnings Warnings { get; init; }
    public required Problems.PatientProblems Problems { get; init; }
    public required Encounters.PatientEncounters Encounters { get; init; }
    public required Medication.ProductCatalogue Catalogue { get; init; }
    public required Medication.MedicationList Medication { get; init; }
    public required Downtime.DowntimePeriods DowntimePeriods { get; init; }
    public required Observations.VitalSigns VitalSigns { get; init; }
    public required Medication.MedicationAdministration Administration { get; init; }

    public static CoreServices Create(Database database, TimeProvider clock, AccessOptions? access = null, ReservnummerFormat? reservnummer = null,
        Medication.MedicationOptions? medication = null)
    {
        var audit = new AuditLog(database, clock);
        var checkpoint = new PatientCheckpoint(database, audit, access ?? new AccessOptions(), clock);
        var accessControl = new AccessControl(database, checkpoint, audit, clock);
        var catalogue = new Medication.ProductCatalogue(database, clock);
        var encounters = new Encounters.PatientEncounters(database, checkpoint, accessControl, new Encounters.EncounterOptions(), Common.RegionTime.Sweden, clock);
        var medicationOptions = medication ?? new Medication.MedicationOptions();
        return new CoreServices
        {
            Database = database, Clock = clock, Audit = audit, Checkpoint = checkpoint,
            Access = accessControl,
            Patients = new PatientRegistry(database, new PatientIdentifierRules(clock, reservnummer ?? ReservnummerFormat.Default), checkpoint, audit, clock),
            Chart = new PatientChart(checkpoint),
            Record = new PatientRecord(database, checkpoint),
            Staff = new StaffDirectory(database, clock),
            Notes = new Notes.ClinicalNotes(database, checkpoint, clock),
            Messages = new LabResults.MessageTracking(database, audit, clock),
            Inbox = new LabResults.ResultInbox(database, checkpoint, clock),
            Trends = new LabResults.ResultTrends(database, checkpoint),
            Attachments = new LabResults.ResultAttachments(checkpoint),
            Reports = new LabResults.ResultReports(database, checkpoint, clock),
            Orders = new Orders.LabOrders(checkpoint, clock),
            Outbox = new Orders.OrderOutbox(database, clock),
            Quarantine = new LabResults.ResultQuarantine(database, audit, new PatientIdentifierRules(clock, reservnummer ?? ReservnummerFormat.Default), clock),
            Warnings = new Warnings.PatientWarnings(checkpoint, clock),
            Problems = new Problems.PatientProblems(checkpoint, clock),
            Encounters = encounters,
            Catalogue = catalogue,
            DowntimePeriods = new Downtime.DowntimePeriods(database, audit, Common.RegionTime.Sweden, clock),
            VitalSigns = new Observations.VitalSigns(checkpoint, Common.RegionTime.Sweden, clock),
            Medication = new Medication.MedicationList(checkpoint, audit, medicationOptions, clock),
            Administration = new Medication.MedicationAdministration(database, checkpoint, encounters, audit, medicationOptions, Common.RegionTime.Sweden, clock),
        };
    }
}
