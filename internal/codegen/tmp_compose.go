package codegen

var composeWrite = func(string) error { return nil }
