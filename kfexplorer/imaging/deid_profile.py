"""PS3.15 Annex E, Table E.1-1 (Basic Application Level Confidentiality Profile) as data.

`BASIC_PROFILE` maps a DICOM keyword to its action in the basic profile column:
  D  replace with a non-zero-length dummy value consistent with the VR
  Z  replace with a zero-length value (or a dummy)
  X  remove
  K  keep
  C  clean (keep only what carries no identifying information)
  U  replace the UID with a non-zero-length UID, consistently within the set of instances
and the combinations the table uses (X/Z, X/D, Z/D, X/Z/D, X/Z/U*), resolved in kfexplorer.imaging.deidentify.

`OPTION_ACTIONS` holds the columns of the options this exporter applies, which override the basic action:
  Retain Patient Characteristics (113108): age, sex, size, weight … kept (K);
  Clean Descriptors (113105): study / series / protocol descriptions cleaned (C);
  Retain Longitudinal Temporal Information with Modified Dates (113107): dates shifted (applied to every DA / DT
  value in kfexplorer.imaging.deidentify, by a per-participant offset).

Attributes of the table whose keyword pydicom 3 does not know (a few retired ones) are listed by tag in
`BASIC_PROFILE_TAGS`. Overlay (60xx) and curve (50xx) groups are handled by group in `REPEATING_GROUP_ACTIONS`.
"""

from __future__ import annotations

_TABLE = """
AccessionNumber Z
AcquisitionComments X
AcquisitionContextSequence X
AcquisitionDate X/Z
AcquisitionDateTime X/Z/D
AcquisitionDeviceProcessingDescription X/D
AcquisitionProtocolDescription X
AcquisitionTime X/Z
ActualHumanPerformersSequence X
AdditionalPatientHistory X
AdmissionID X
AdmittingDate X
AdmittingDiagnosesCodeSequence X
AdmittingDiagnosesDescription X
AdmittingTime X
AffectedSOPInstanceUID X
Allergies X
Arbitrary X
AuthorObserverSequence X
BranchOfService X
CassetteID X
CommentsOnThePerformedProcedureStep X
ConcatenationUID U
ConfidentialityConstraintOnPatientDataDescription X
ContentCreatorIdentificationCodeSequence X
ContentCreatorName Z
ContentDate Z/D
ContentSequence X
ContentTime Z/D
ContextGroupExtensionCreatorUID U
ContrastBolusAgent Z/D
ContributionDescription X
CountryOfResidence X
CreatorVersionUID U
CurrentPatientLocation X
CustodialOrganizationSequence X
DataSetTrailingPadding X
DateOfLastCalibration X
DateOfSecondaryCapture X/D
DerivationDescription X
DetectorID X/D
DeviceSerialNumber X/Z/D
DeviceUID U
DigitalSignatureUID X
DigitalSignaturesSequence X
DimensionOrganizationUID U
DischargeDiagnosisDescription X
DistributionAddress X
DistributionName X
DoseReferenceUID U
EndAcquisitionDateTime X/D
EthnicGroup X
FailedSOPInstanceUIDList U
FiducialUID U
FillerOrderNumberImagingServiceRequest Z
FrameComments X
FrameOfReferenceUID U
GantryID X
GeneratorID X
GraphicAnnotationSequence D
HumanPerformerName X
HumanPerformerOrganization X
IconImageSequence X
IdentifyingComments X
ImageComments X
ImagePresentationComments X
ImagingServiceRequestComments X
Impressions X
InstanceCoercionDateTime X
InstanceCreationDate X/D
InstanceCreationTime X/Z/D
InstanceCreatorUID U
InstitutionAddress X
InstitutionCodeSequence X/Z/D
InstitutionName X/Z/D
InstitutionalDepartmentName X
InsurancePlanIdentification X
IntendedRecipientsOfResultsIdentificationSequence X
InterpretationApproverSequence X
InterpretationAuthor X
InterpretationDiagnosisDescription X
InterpretationIDIssuer X
InterpretationRecorder X
InterpretationText X
InterpretationTranscriber X
IrradiationEventUID U
IssuerOfAdmissionID X
IssuerOfPatientID X
IssuerOfServiceEpisodeID X
LargePaletteColorLookupTableUID U
LastMenstrualDate X
MAC X
MediaStorageSOPInstanceUID U
MedicalAlerts X
MedicalRecordLocator X
MilitaryRank X
ModifiedAttributesSequence X
NameOfPhysiciansReadingStudy X
NamesOfIntendedRecipientsOfResults X
ObservationUID U
Occupation X
OperatorIdentificationSequence X
OperatorsName X/Z/D
OrderCallbackPhoneNumber X
OrderEnteredBy X
OrderEntererLocation X
OriginalAttributesSequence X
OtherPatientIDs X
OtherPatientIDsSequence X
OtherPatientNames X
PaletteColorLookupTableUID U
ParticipantSequence X
PatientAddress X
PatientAge X
PatientBirthDate Z
PatientBirthName X
PatientBirthTime X
PatientComments X
PatientID Z
PatientInsurancePlanCodeSequence X
PatientMotherBirthName X
PatientName Z
PatientPrimaryLanguageCodeSequence X
PatientPrimaryLanguageModifierCodeSequence X
PatientReligiousPreference X
PatientSex Z
PatientSexNeutered X/Z
PatientSize X
PatientState X
PatientTelephoneNumbers X
PatientTransportArrangements X
PatientWeight X
PerformedLocation X
PerformedProcedureStepDescription X
PerformedProcedureStepEndDate X
PerformedProcedureStepEndTime X
PerformedProcedureStepID X
PerformedProcedureStepStartDate X
PerformedProcedureStepStartTime X
PerformingPhysicianIdentificationSequence X
PerformingPhysicianName X
PersonAddress X
PersonIdentificationCodeSequence D
PersonName D
PersonTelephoneNumbers X
PhysicianApprovingInterpretation X
PhysiciansOfRecord X
PhysiciansOfRecordIdentificationSequence X
PhysiciansReadingStudyIdentificationSequence X
PlacerOrderNumberImagingServiceRequest Z
PlateID X
PreMedication X
PregnancyStatus X
ProtocolName X/D
ReasonForStudy X
ReferencedDigitalSignatureSequence X
ReferencedFrameOfReferenceUID U
ReferencedGeneralPurposeScheduledProcedureStepTransactionUID U
ReferencedImageSequence X/Z/U*
ReferencedPatientAliasSequence X
ReferencedPatientPhotoSequence X
ReferencedPatientSequence X
ReferencedPerformedProcedureStepSequence X/Z/D
ReferencedSOPInstanceMACSequence X
ReferencedSOPInstanceUID U
ReferencedSOPInstanceUIDInFile U
ReferencedStudySequence X/Z
ReferringPhysicianAddress X
ReferringPhysicianIdentificationSequence X
ReferringPhysicianName Z
ReferringPhysicianTelephoneNumbers X
RegionOfResidence X
RelatedFrameOfReferenceUID U
RequestAttributesSequence X
RequestedContrastAgent X
RequestedProcedureComments X
RequestedProcedureDescription X/Z
RequestedProcedureID X
RequestedProcedureLocation X
RequestedSOPInstanceUID U
RequestingPhysician X
RequestingService X
RequestingServiceCodeSequence X
ResponsibleOrganization X
ResponsiblePerson X
ResultsComments X
ResultsDistributionListSequence X
ResultsIDIssuer X
ReviewerName X/Z
ScheduledHumanPerformersSequence X
ScheduledPatientInstitutionResidence X
ScheduledPerformingPhysicianIdentificationSequence X
ScheduledPerformingPhysicianName X
ScheduledProcedureStepDescription X
ScheduledProcedureStepEndDate X
ScheduledProcedureStepEndTime X
ScheduledProcedureStepLocation X
ScheduledProcedureStepStartDate X
ScheduledProcedureStepStartTime X
ScheduledStationAETitle X
ScheduledStationGeographicLocationCodeSequence X
ScheduledStationName X
ScheduledStationNameCodeSequence X
ScheduledStudyLocation X
ScheduledStudyLocationAETitle X
SeriesDate X/D
SeriesDescription X
SeriesInstanceUID U
SeriesTime X/D
ServiceEpisodeDescription X
ServiceEpisodeID X
SmokingStatus X
SOPInstanceUID U
SourceImageSequence X/Z/U*
SpecialNeeds X
StartAcquisitionDateTime X/D
StationName X/Z/D
StorageMediaFileSetUID U
StudyComments X
StudyDate Z
StudyDescription X
StudyID Z
StudyIDIssuer X
StudyInstanceUID U
StudyTime Z
SynchronizationFrameOfReferenceUID U
TemplateExtensionCreatorUID U
TemplateExtensionOrganizationUID U
TextComments X
TextString X
TimeOfLastCalibration X
TimeOfSecondaryCapture X/D
TimezoneOffsetFromUTC X
TopicAuthor X
TopicKeywords X
TopicSubject X
TopicTitle X
TransactionUID U
UID U
VerifyingObserverIdentificationCodeSequence Z
VerifyingObserverName D
VerifyingObserverSequence D
VerifyingOrganization X
VisitComments X
"""

BASIC_PROFILE: dict[str, str] = {
    keyword: action for keyword, action in (line.split() for line in _TABLE.strip().splitlines())
}

# Retired attributes of the table that pydicom 3 has no keyword for, by tag.
BASIC_PROFILE_TAGS: dict[int, str] = {
    0x00203401: "X",  # Modifying Device ID (retired)
    0x00203404: "X",  # Modifying Device Manufacturer (retired)
    0x00203406: "X",  # Modified Image Description (retired)
}

# Repeating groups: (group mask, group value, element) → action; element None = every element of the group.
REPEATING_GROUP_ACTIONS: tuple[tuple[int, int, int | None, str], ...] = (
    (0xFF00, 0x5000, None, "X"),  # curve data and descriptors (retired curves)
    (0xFF00, 0x6000, 0x4000, "X"),  # Overlay Comments
    (0xFF00, 0x6000, 0x3000, "X"),  # Overlay Data (burned-in-style annotations)
)

RETAIN_PATIENT_CHARACTERISTICS = ("PatientAge", "PatientSex", "PatientSize", "PatientWeight", "PatientSexNeutered",
                                  "PregnancyStatus", "SmokingStatus", "EthnicGroup", "LastMenstrualDate")
CLEAN_DESCRIPTORS = ("StudyDescription", "SeriesDescription", "ProtocolName", "AcquisitionDeviceProcessingDescription",
                     "PerformedProcedureStepDescription", "RequestedProcedureDescription", "ContrastBolusAgent",
                     "DerivationDescription", "ScheduledProcedureStepDescription")

OPTION_ACTIONS: dict[str, str] = {
    **{keyword: "K" for keyword in RETAIN_PATIENT_CHARACTERISTICS},
    **{keyword: "C" for keyword in CLEAN_DESCRIPTORS},
}

# (code value, meaning) of the Deidentification Method Code Sequence (CID 7050) for what is applied.
METHOD_CODES: tuple[tuple[str, str], ...] = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113105", "Clean Descriptors Option"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
)
