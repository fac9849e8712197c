// Inline sizes and positions set through the CSSOM (element.style), which a webview's
// Content-Security-Policy allows, instead of a `style` attribute, which it blocks
// without 'unsafe-inline'. Lit's styleMap writes the attribute on the first render.
// Usage, as an element binding: html`<div ${styleProps({ height: '20px' })}>`.
import { nothing } from 'lit';
import { Directive, directive, PartType, type ElementPart, type PartInfo } from 'lit/directive.js';

class StyleProps extends Directive {
  constructor(info: PartInfo) {
    super(info);
    if (info.type !== PartType.ELEMENT) throw new Error('styleProps binds to an element: html`<div ${styleProps({...})}>`');
  }

  render(_styles: Readonly<Record<string, string>>): typeof nothing {
    return nothing;
  }

  override update(part: ElementPart, [styles]: [Readonly<Record<string, string>>]): typeof nothing {
    const style = (part.element as HTMLElement).style;
    for (const [name, value] of Object.entries(styles)) style.setProperty(name, value);
    return nothing;
  }
}

export const styleProps = directive(StyleProps);
