// Command render renders a Helm chart as `helm template` would, with Go's text/template, the sprig functions and
// Helm's own (include, tpl, required, toYaml, fromYaml, fromYamlArray, lookup, .Files.Get,
// .Capabilities.APIVersions.Has), so that the chart tests check what Helm's engine produces.
//
//	render CHART_DIR [VALUES_FILE ...] [--api-version GROUP/VERSION[/KIND] ...]
//
// Values files are merged over the chart's values.yaml in order. lookup finds nothing (as in `helm template`).
// Each rendered template that is not empty goes to standard output as a YAML document after "# Source: NAME".
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

type files struct{ root string }

// Get returns a file of the chart, as .Files.Get does; a missing file is empty.
func (f files) Get(name string) string {
	data, err := os.ReadFile(filepath.Join(f.root, name))
	if err != nil {
		return ""
	}
	return string(data)
}

type apiVersions []string

// Has tells whether the cluster serves an API (GROUP/VERSION, or GROUP/VERSION/KIND).
func (a apiVersions) Has(name string) bool {
	for _, v := range a {
		if v == name {
			return true
		}
	}
	return false
}

func load(path string) map[string]interface{} {
	data, err := os.ReadFile(path)
	check(err)
	values := map[string]interface{}{}
	check(yaml.Unmarshal(data, &values))
	return values
}

// merge lays over onto base, map by map, as Helm merges values files.
func merge(base, over map[string]interface{}) map[string]interface{} {
	for key, value := range over {
		if sub, ok := value.(map[string]interface{}); ok {
			if baseSub, ok := base[key].(map[string]interface{}); ok {
				base[key] = merge(baseSub, sub)
				continue
			}
		}
		base[key] = value
	}
	return base
}

func toYaml(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: render CHART_DIR [VALUES_FILE ...] [--api-version NAME ...]")
		os.Exit(2)
	}
	chart := os.Args[1]
	values := load(filepath.Join(chart, "values.yaml"))
	var apis apiVersions
	for k := 2; k < len(os.Args); k++ {
		if os.Args[k] == "--api-version" && k+1 < len(os.Args) {
			apis = append(apis, os.Args[k+1])
			k++
			continue
		}
		values = merge(values, load(os.Args[k]))
	}
	meta := load(filepath.Join(chart, "Chart.yaml"))
	name := fmt.Sprint(meta["name"])

	root := template.New(name)
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env") // as Helm: a chart does not read the environment of whoever renders it
	delete(funcs, "expandenv")
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var out bytes.Buffer
		err := root.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		err = t.Execute(&out, data)
		return out.String(), err
	}
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil || value == "" {
			return nil, fmt.Errorf("%s", message)
		}
		return value, nil
	}
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = func(text string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(text), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromYamlArray"] = func(text string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(text), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs).Option("missingkey=zero")

	templates, err := filepath.Glob(filepath.Join(chart, "templates", "*"))
	check(err)
	sort.Strings(templates)
	for _, path := range templates {
		data, err := os.ReadFile(path)
		check(err)
		_, err = root.New(filepath.Join(name, "templates", filepath.Base(path))).Parse(string(data))
		check(err)
	}

	top := map[string]interface{}{
		"Values":       values,
		"Chart":        map[string]interface{}{"Name": name, "Version": meta["version"], "AppVersion": meta["appVersion"]},
		"Release":      map[string]interface{}{"Name": "r", "Namespace": "default", "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": map[string]interface{}{"APIVersions": apis, "KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"}},
		"Files":        files{chart},
	}
	for _, path := range templates {
		base := filepath.Base(path)
		if strings.HasPrefix(base, "_") || !strings.HasSuffix(base, ".yaml") {
			continue // helpers, and NOTES.txt
		}
		full := filepath.Join(name, "templates", base)
		top["Template"] = map[string]interface{}{"Name": full, "BasePath": filepath.Join(name, "templates")}
		var out bytes.Buffer
		check(root.ExecuteTemplate(&out, full, top))
		if strings.TrimSpace(out.String()) != "" {
			fmt.Printf("---\n# Source: %s\n%s\n", full, strings.TrimRight(out.String(), "\n"))
		}
	}
}
