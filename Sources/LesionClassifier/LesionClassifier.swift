// LesionClassifier
//
// COVID-CT-Mask-Net's classifier (spec §4.7, §5): ranked-box extraction, module S, weight transfer, trainable set.
