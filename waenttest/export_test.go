package waenttest

// ParseBundle lets the external tests read a prekey bundle the way users do.
var ParseBundle = parseBundle
