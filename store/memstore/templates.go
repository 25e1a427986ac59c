package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/waent/waent/store"
)

func (o op) PutTemplates(ctx context.Context, ts []store.Template) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for _, t := range ts {
		if err := t.Validate(); err != nil {
			return err
		}
	}
	for _, t := range ts {
		put(o, o.st.templates, t.TemplateKey, copyTemplate(t))
	}
	return nil
}

func (o op) GetTemplate(ctx context.Context, key store.TemplateKey) (store.Template, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Template{}, err
	}
	defer leave()
	t, ok := o.st.templates[key]
	if !ok {
		return store.Template{}, store.NotFoundf("template %s/%s/%s", key.Namespace, key.Name, key.Language)
	}
	return copyTemplate(t), nil
}

func (o op) ListTemplates(ctx context.Context, f store.TemplateFilter) ([]store.Template, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	out := []store.Template{}
	for k, t := range o.st.templates {
		if (f.Namespace == "" || k.Namespace == f.Namespace) && (f.Name == "" || k.Name == f.Name) {
			out = append(out, copyTemplate(t))
		}
	}
	slices.SortFunc(out, func(a, b store.Template) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Language, b.Language))
	})
	return out, nil
}

func (o op) DeleteTemplate(ctx context.Context, key store.TemplateKey) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.templates, key) {
		return store.NotFoundf("template %s/%s/%s", key.Namespace, key.Name, key.Language)
	}
	return nil
}
