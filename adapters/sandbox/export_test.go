package sandbox

// WriteSettlement lets the tests write a report from lines of their own.
var WriteSettlement = writeSettlement
