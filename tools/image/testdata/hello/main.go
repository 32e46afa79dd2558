// Command hello stands in for careslot in the image builder's tests: it builds in a second.
package main

import "fmt"

func main() { fmt.Println("hello") }
