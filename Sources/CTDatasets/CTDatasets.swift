// CTDatasets
//
// CNCB segmentation folders, COVIDx-CT classification naming, split files, and the synthetic CT generator (spec §1).
