import{createRequire as __mdcoreRequire}from'node:module';const require=__mdcoreRequire(import.meta.url);
var i=class{values=new Set;add(s){let t=s.trim();t.length>=4&&this.values.add(t)}apply(s){let t=s;for(let e of[...this.values].sort((r,n)=>n.length-r.length))t=t.split(e).join("***");return t}};export{i as a};
