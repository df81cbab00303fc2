// CTDatasets
//
// CNCB segmentation folders, COVIDx-CT classification naming, split files, and the synthetic CT generator (spec §1).
//
// Everything here reads lazily: a data set object holds file names and checks them up front (pairing, naming,
// split membership), and decodes one slice per `sample(at:)` call, so folders of thousands of 512×512 slices
// never sit in memory at once.
